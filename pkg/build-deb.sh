#!/bin/sh
# `make deb`: a Debian package of the installed layout (pkg/install.sh with Debian's paths)
# built with dpkg-deb alone: control file, conffiles, and maintainer scripts that enable the
# systemd unit and start it when systemd runs, stop the server before removal, and remove
# logs and state on purge.
set -eu

: "${BIN:?the portico binary to package}"
: "${SRC:?the repository}"
OUT=${OUT:-$SRC/target/deb}
VERSION=${VERSION:-$(sed -n 's/^version = "\(.*\)"/\1/p' "$SRC/Cargo.toml" | head -n 1)}
REVISION=${REVISION:-1}
ARCH=$(dpkg --print-architecture)

stage=$OUT/stage
rm -rf "$stage"
mkdir -p "$stage/DEBIAN"
DESTDIR=$stage PREFIX=/usr SYSCONFDIR=/etc BIN=$BIN SRC=$SRC "$SRC/pkg/install.sh" 2>/dev/null
# The release profile keeps line tables for backtraces; the package does without them.
if command -v strip >/dev/null 2>&1; then
	strip --strip-debug "$stage/usr/sbin/portico"
fi

# Shared libraries the binary links to, as the packages that hold them.
depends=$(ldd "$BIN" | awk '/=> \// { print $3 }' | while read -r lib; do
	dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true
done | cut -d: -f1 | sort -u | tr '\n' ' ')
deps=""
for p in $depends; do
	deps="${deps:+$deps, }$p"
done

size=$(du -sk "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<CONTROL
Package: portico
Version: $VERSION-$REVISION
Architecture: $ARCH
Maintainer: Portico developers <portico@localhost>
Installed-Size: $size
Depends: ${deps:-libc6}
Recommends: logrotate
Section: httpd
Priority: optional
Description: nginx-compatible web server and reverse proxy
 Portico reads an existing nginx.conf and behaves the way nginx does (directives,
 statuses, headers, log lines), with a master and pre-forked single-threaded workers.
 The default site listens on port 8080, beside nginx's port 80.
CONTROL
(cd "$stage" && find etc -type f | sed 's|^|/|' | sort) >"$stage/DEBIAN/conffiles"
for script in postinst prerm postrm; do
	sed -e "s|@LOGDIR@|/var/log/portico|g" -e "s|@STATEDIR@|/var/lib/portico|g" \
		-e "s|@RUNDIR@|/run|g" "$SRC/pkg/debian/$script" >"$stage/DEBIAN/$script"
	chmod 0755 "$stage/DEBIAN/$script"
done
# The log and state folders are the package's own only when empty: made by postinst.
rmdir "$stage/var/log/portico" "$stage/var/lib/portico" "$stage/var/log" "$stage/var/lib" "$stage/var"

deb="$OUT/portico_${VERSION}-${REVISION}_${ARCH}.deb"
dpkg-deb --root-owner-group --build "$stage" "$deb" >/dev/null
echo "$deb"
