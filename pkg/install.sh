#!/bin/sh
# Lays out an installed Portico, as `make install` does (see the Makefile's "install and
# package" section for the variables and their defaults): the binary, /etc/portico in
# Debian's shape, the welcome site, the log and state folders, the systemd unit and the
# logrotate file. Paths written into the files are the final ones; DESTDIR only stages.
#
# Configuration files already there are kept (as nginx's `make install` keeps nginx.conf),
# so installing again never overwrites an edited configuration.
set -eu

: "${BIN:?the portico binary to install}"
: "${SRC:?the repository}"
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr}
SBINDIR=${SBINDIR:-$PREFIX/sbin}
DATADIR=${DATADIR:-$PREFIX/share/portico}
DOCDIR=${DOCDIR:-$PREFIX/share/doc/portico}
SYSCONFDIR=${SYSCONFDIR:-/etc}
CONFDIR=${CONFDIR:-$SYSCONFDIR/portico}
LOGDIR=${LOGDIR:-/var/log/portico}
STATEDIR=${STATEDIR:-/var/lib/portico}
RUNDIR=${RUNDIR:-/run}
UNITDIR=${UNITDIR:-/lib/systemd/system}
LOGROTATEDIR=${LOGROTATEDIR:-$SYSCONFDIR/logrotate.d}
PORT=${PORT:-8080}
USER=${PORTICO_USER:-www-data}

# The templates' @NAME@ markers become the final paths.
fill() {
	sed -e "s|@SBINDIR@|$SBINDIR|g" -e "s|@DATADIR@|$DATADIR|g" -e "s|@DOCDIR@|$DOCDIR|g" \
		-e "s|@CONFDIR@|$CONFDIR|g" -e "s|@LOGDIR@|$LOGDIR|g" -e "s|@STATEDIR@|$STATEDIR|g" \
		-e "s|@RUNDIR@|$RUNDIR|g" -e "s|@PORT@|$PORT|g" -e "s|@USER@|$USER|g" "$1"
}

# Installs a configuration file ($2, from stdin) unless one is there already.
conffile() {
	if [ -e "$DESTDIR$1" ]; then
		echo "portico: keeping $1 (the new one is not installed)" >&2
		cat >/dev/null
	else
		cat >"$DESTDIR$1"
		chmod 0644 "$DESTDIR$1"
	fi
}

install -d -m 0755 "$DESTDIR$SBINDIR" "$DESTDIR$DATADIR/html" "$DESTDIR$DOCDIR" \
	"$DESTDIR$CONFDIR/conf.d" "$DESTDIR$CONFDIR/sites-available" \
	"$DESTDIR$CONFDIR/sites-enabled" "$DESTDIR$LOGDIR" "$DESTDIR$STATEDIR" \
	"$DESTDIR$UNITDIR" "$DESTDIR$LOGROTATEDIR"
install -m 0755 "$BIN" "$DESTDIR$SBINDIR/portico"

# Everything conf/ ships (mime.types, the *_params files...), but its two main
# configurations: the development default (conf/portico.conf, replaced by the Debian-shaped
# one below) and the seed example (conf/nginx.conf).
for f in "$SRC"/conf/*; do
	name=$(basename "$f")
	case "$name" in
		portico.conf | nginx.conf) continue ;;
	esac
	[ -f "$f" ] && conffile "$CONFDIR/$name" <"$f"
done
fill "$SRC/pkg/portico.conf.in" | conffile "$CONFDIR/portico.conf"
fill "$SRC/pkg/sites-available/default.in" | conffile "$CONFDIR/sites-available/default"
if [ ! -e "$DESTDIR$CONFDIR/sites-enabled/default" ] && [ ! -L "$DESTDIR$CONFDIR/sites-enabled/default" ]; then
	ln -s ../sites-available/default "$DESTDIR$CONFDIR/sites-enabled/default"
fi
fill "$SRC/pkg/portico.logrotate.in" | conffile "$LOGROTATEDIR/portico"

fill "$SRC/pkg/portico.service.in" >"$DESTDIR$UNITDIR/portico.service"
chmod 0644 "$DESTDIR$UNITDIR/portico.service"
cp -R "$SRC"/html/. "$DESTDIR$DATADIR/html/"
chmod -R a+rX "$DESTDIR$DATADIR/html"
fill "$SRC/pkg/README.Debian" >"$DESTDIR$DOCDIR/README.Debian"
chmod 0644 "$DESTDIR$DOCDIR/README.Debian"
