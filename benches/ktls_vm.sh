#!/bin/sh
# Kernel TLS for real (`make ktls-vm`): boots Debian's kernel, which has the `tls` module
# (CONFIG_TLS=m), in qemu with KVM, and runs benches/ktls_vm_check.py there: Portico's kTLS
# path (TLS 1.2 and 1.3, each AEAD, keep-alive and pipelined, a KeyUpdate), then nginx vs
# Portico on a 1 MiB file with and without kTLS (wrk in the VM; indicative only).
#
# Usage: benches/ktls_vm.sh [PORTICO_BINARY]   (default target/release/portico)
# Installs what is missing from Debian with apt-get (root): qemu-system-x86 linux-image-amd64
# busybox-static, and python3 openssl nginx wrk for the check and the comparison.
# Everything is built in a temporary directory removed on exit; qemu runs under `timeout`.
# Exit status: 0 when the VM printed "KTLS VM CHECK PASSED".
# KTLS_VM_CMD="..." runs that shell command in the VM instead of the check (debugging);
# KTLS_VM_TIMEOUT (seconds, default 900) bounds qemu; KTLS_VM_ACCEL=tcg skips KVM.
set -eu

BIN=$(readlink -f "${1:-target/release/portico}")
HERE=$(cd "$(dirname "$0")" && pwd)
VM_TIMEOUT=${KTLS_VM_TIMEOUT:-900}
[ -x "$BIN" ] || { echo "ktls-vm: no Portico binary at $BIN (cargo build --release)" >&2; exit 2; }

need=""
command -v qemu-system-x86_64 >/dev/null || need="$need qemu-system-x86"
ls /boot/vmlinuz-* >/dev/null 2>&1 || need="$need linux-image-amd64"
[ -x /bin/busybox ] && /bin/busybox --list | grep -qx modprobe || need="$need busybox-static"
[ -x /usr/bin/python3 ] || need="$need python3"
command -v openssl >/dev/null || need="$need openssl"
[ -x /usr/sbin/nginx ] || need="$need nginx"
command -v wrk >/dev/null || need="$need wrk"
if [ -n "$need" ]; then
    echo "ktls-vm: apt-get install -y$need"
    DEBIAN_FRONTEND=noninteractive apt-get install -y $need >/dev/null
fi

# /dev/kvm on a Firecracker VM may be kvm_pvm (no VMX): it boots Debian's kernel with
# `-cpu host` at times and refuses it at others ("failed to set MSR 0x10a"); then TCG runs.

# Debian's newest kernel that has the tls module.
KVER=""
for k in $(ls /boot/vmlinuz-* | sort -V); do
    v=${k#/boot/vmlinuz-}
    ls /lib/modules/"$v"/kernel/net/tls/tls.ko* >/dev/null 2>&1 && KVER=$v
done
[ -n "$KVER" ] || { echo "ktls-vm: no /boot/vmlinuz-* with net/tls/tls.ko" >&2; exit 2; }
KERNEL=/boot/vmlinuz-$KVER

WORK=$(mktemp -d /tmp/ktls-vm.XXXXXX)
trap 'rm -rf "$WORK"' EXIT INT TERM
R=$WORK/root
mkdir -p "$R"/bin "$R"/sbin "$R"/usr/bin "$R"/usr/sbin "$R"/proc "$R"/sys "$R"/dev "$R"/tmp \
    "$R"/etc "$R"/check "$R"/var/lib/nginx "$R"/var/log/nginx "$R"/run

# Copies a file and the shared libraries ldd lists for it, at their own paths.
copy_with_libs() {
    mkdir -p "$R$(dirname "$1")"
    cp -L "$1" "$R$1"
    ldd "$1" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
        [ -e "$R$lib" ] || { mkdir -p "$R$(dirname "$lib")"; cp -L "$lib" "$R$lib"; }
    done
}

cp /bin/busybox "$R"/bin/busybox
# Portico without its debug info (smaller image); the check binary and config.
if command -v objcopy >/dev/null; then
    objcopy --strip-debug "$BIN" "$R"/check/portico
else
    cp "$BIN" "$R"/check/portico
fi
for lib in $(ldd "$BIN" | grep -o '/[^ ]*'); do
    [ -e "$R$lib" ] || { mkdir -p "$R$(dirname "$lib")"; cp -L "$lib" "$R$lib"; }
done
cp "$HERE"/ktls_vm_check.py "$R"/check/
OPENSSL=$(command -v openssl)
WRK=$(command -v wrk)
for b in "$OPENSSL" /usr/bin/python3 /usr/sbin/nginx "$WRK"; do copy_with_libs "$(readlink -f "$b")"; done
ln -sf "$(readlink -f /usr/bin/python3)" "$R"/usr/bin/python3
[ "$OPENSSL" = /usr/bin/openssl ] || ln -sf "$OPENSSL" "$R"/usr/bin/openssl
[ "$WRK" = /usr/bin/wrk ] || ln -sf "$WRK" "$R"/usr/bin/wrk
# OpenSSL's configuration (nginx's `ssl_conf_command` and `openssl req` read it).
ssldir=$(openssl version -d | sed 's/.*"\(.*\)"/\1/')
mkdir -p "$R$ssldir" "$R"/etc/ssl
cp -L "$ssldir"/openssl.cnf "$R$ssldir"/openssl.cnf 2>/dev/null || true
[ -e /etc/ssl/openssl.cnf ] && cp -L /etc/ssl/openssl.cnf "$R"/etc/ssl/openssl.cnf
# Python's standard library (Debian's python3), without tests and GUI parts; its C modules.
PY=$(readlink -f /usr/bin/python3)
PYLIB=$("$PY" -S -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
mkdir -p "$R$PYLIB"
(cd "$PYLIB" && tar cf - --exclude=./test --exclude=./idlelib --exclude=./tkinter \
    --exclude=./ensurepip --exclude=./lib2to3 --exclude=./site-packages \
    --exclude=./dist-packages --exclude='./config-*' --exclude=__pycache__ .) |
    (cd "$R$PYLIB" && tar xf -)
for so in "$PYLIB"/lib-dynload/*.so; do
    ldd "$so" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
        [ -e "$R$lib" ] || { mkdir -p "$R$(dirname "$lib")"; cp -L "$lib" "$R$lib"; }
    done
done

# The kernel's modules kTLS needs: tls.ko and the crypto it asks for (AES-GCM,
# ChaCha20-Poly1305, with their dependencies), with modules.dep/alias for busybox modprobe
# (the kernel's request_module finds the rest through /sbin/modprobe). .ko.xz/.zst unpacked.
M=/lib/modules/$KVER
mkdir -p "$R$M"
(cd "$M" && tar cf - kernel/net/tls kernel/crypto kernel/arch/x86/crypto kernel/lib/crypto \
    modules.dep modules.alias modules.symbols modules.builtin 2>/dev/null) | (cd "$R$M" && tar xf -)
find "$R$M" -name '*.ko.xz' -exec xz -d {} + 2>/dev/null || true
find "$R$M" -name '*.ko.zst' -exec zstd -q -d --rm {} + 2>/dev/null || true
sed -i 's/\.ko\.\(xz\|zst\|gz\)/.ko/g' "$R$M"/modules.dep
grep -o 'kernel/net/tls/tls.ko[^ ]*' "$M"/modules.dep | head -1 | grep -q . ||
    { echo "ktls-vm: tls.ko not in $M/modules.dep" >&2; exit 2; }

printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n' >"$R"/etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' >"$R"/etc/group

cat >"$R"/init <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
ip link set lo up
echo /sbin/modprobe >/proc/sys/kernel/modprobe
for m in tls gcm ghash-clmulni-intel aesni-intel chacha20poly1305 chacha-x86_64 poly1305-x86_64; do
    modprobe "$m" || echo "ktls-vm: modprobe $m failed"
done
echo "ktls-vm: kernel $(uname -r), tcp_available_ulp: $(cat /proc/sys/net/ipv4/tcp_available_ulp)"
if [ -s /check/cmd ]; then
    cd /tmp && sh /check/cmd
elif grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp; then
    cd /tmp && python3 -S /check/ktls_vm_check.py /check/portico /usr/bin/openssl \
        /usr/sbin/nginx /usr/bin/wrk
    echo "ktls-vm: check exited $?"
else
    echo "KTLS VM CHECK FAILED: no tls in tcp_available_ulp"
fi
poweroff -f
EOF
chmod +x "$R"/init
printf '%s\n' "${KTLS_VM_CMD:-}" >"$R"/check/cmd
[ -n "${KTLS_VM_CMD:-}" ] || : >"$R"/check/cmd

CPIO="cpio --quiet"
command -v cpio >/dev/null || CPIO="/bin/busybox cpio"
(cd "$R" && find . | sort | $CPIO -o -H newc) | gzip -1 >"$WORK"/initrd.gz
echo "ktls-vm: kernel $KERNEL, initramfs $(du -h "$WORK"/initrd.gz | cut -f1)"

boot() { # $1: accelerator name (told to the check); then qemu's accelerator options
    accel=$1
    shift
    timeout "$VM_TIMEOUT" qemu-system-x86_64 "$@" -m 2G -smp 2 -nographic -no-reboot \
        -kernel "$KERNEL" -initrd "$WORK"/initrd.gz \
        -append "console=ttyS0 quiet panic=-1 ktls_vm_accel=$accel" \
        </dev/null 2>&1 | tee "$WORK"/console.log
}
if [ -w /dev/kvm ] && [ "${KTLS_VM_ACCEL:-kvm}" = kvm ]; then
    boot kvm -enable-kvm -cpu host || true
fi
if ! grep -q "ktls-vm: kernel" "$WORK"/console.log 2>/dev/null; then
    echo "ktls-vm: WARNING: KVM unavailable or failed; falling back to TCG (slow, figures meaningless)"
    boot tcg -accel tcg -cpu max || true
fi
grep -q "KTLS VM CHECK PASSED" "$WORK"/console.log
