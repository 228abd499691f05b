#!/usr/bin/env bash
# The hermetic toolchain: a Debian testing (forky) root filesystem built with
# debootstrap into a cache directory, holding Emscripten, Python 3.14, pybind11,
# Catch2, Node and Chromium. Everything the project builds or tests runs inside
# it through `run`, so the host needs nothing but debootstrap.
#
#   wasm/toolchain.sh ensure        build or update the root (a no-op when current)
#   wasm/toolchain.sh run CMD...    run CMD inside the root, the project mounted
#   wasm/toolchain.sh root          print the root's path
#
# The cache lives in $WEBPICKLE_TOOLCHAIN_DIR, or else $XDG_CACHE_HOME/webpickle
# (default ~/.cache/webpickle). Point the variable at an empty folder to test a
# cold setup.
#
# Mounts are made in a private mount namespace (unshare), so they vanish with the
# command even when it fails or is killed, and are never visible on the host:
# nothing can delete the project through a stale bind mount.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
project=$(cd "$here/.." && pwd)
cache=${WEBPICKLE_TOOLCHAIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/webpickle}
root=$cache/forky
packages_file=$here/toolchain-packages.txt
# Bump when the way the root is set up changes (not the package list: that is hashed).
layout_version=1
PWD_IN_ROOT=/

say() { printf '[toolchain] %s\n' "$*" >&2; }
die() { printf '[toolchain] error: %s\n' "$*" >&2; exit 1; }

apt_mirror() {
    # The Debian mirror this machine is configured with; never written in the repo.
    local uri
    uri=$(sed -n 's#^URIs: *\([a-z]*://[^ ]*/debian\)/*$#\1#p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
    [ -n "$uri" ] || uri=$(sed -n 's#^deb \(\[[^]]*\] \)\{0,1\}\([a-z]*://[^ ]*/debian\)/* .*#\2#p' /etc/apt/sources.list 2>/dev/null | head -n1)
    [ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources.list{,.d}; configure apt on the host first"
    printf '%s\n' "$uri"
}

npm_registry() {
    # The npm registry the host is configured with, handed to npm inside the root.
    command -v npm >/dev/null 2>&1 && npm config get registry 2>/dev/null || true
}

package_list() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$packages_file"; }

wanted_stamp() { { echo "layout $layout_version"; package_list; } | sha256sum | cut -d' ' -f1; }

mounts_under() { awk -v p="$1" '$5 == p || index($5, p "/") == 1 {print $5}' /proc/self/mountinfo; }

safe_remove() {
    # Refuse to delete a tree that still has something mounted in it.
    local dir=$1
    [ -z "$(mounts_under "$dir")" ] || die "$dir still has mounts in it ($(mounts_under "$dir" | head -n3 | tr '\n' ' ')); unmount them before retrying"
    rm -rf --one-file-system "$dir"
}

need_host_tools() {
    [ "$(id -u)" = 0 ] || die "run as root (debootstrap and chroot need it)"
    command -v unshare >/dev/null || die "unshare (util-linux) is missing on the host"
    if ! command -v debootstrap >/dev/null; then
        say "installing debootstrap on the host"
        apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null \
            || die "could not install debootstrap on the host: run 'apt-get install debootstrap'"
    fi
}

bootstrap_root() {
    local mirror partial=$cache/forky.partial
    mirror=$(apt_mirror)
    [ -d "$partial" ] && { say "removing an interrupted bootstrap"; safe_remove "$partial"; }
    mkdir -p "$partial"
    say "step 1/3: debootstrap forky into $root (a few minutes)"
    # Debian 12's debootstrap has no forky script: sid's one fits testing.
    unshare --mount --propagation private \
        debootstrap --variant=minbase --no-check-gpg forky "$partial" "$mirror" \
        /usr/share/debootstrap/scripts/sid >"$cache/debootstrap.log" 2>&1 \
        || die "step 1/3 (debootstrap) failed; see $cache/debootstrap.log, then rerun 'wasm/toolchain.sh ensure'"
    mv "$partial" "$root"
}

configure_apt() {
    local mirror
    mirror=$(apt_mirror)
    cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror forky main
deb-src $mirror forky main
EOF
    # The mirror serves a frozen archive whose Release files may have expired.
    cat >"$root/etc/apt/apt.conf.d/99webpickle" <<'EOF'
Acquire::Check-Valid-Until "false";
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOF
}

install_packages() {
    say "step 2/3: apt-get install $(package_list | wc -l) packages (a few minutes on a cold cache)"
    # shellcheck disable=SC2046
    in_root env DEBIAN_FRONTEND=noninteractive sh -c \
        "apt-get -o Acquire::Check-Valid-Until=false update -qq && apt-get install -y -qq $(package_list | tr '\n' ' ')" \
        >"$cache/apt.log" 2>&1 \
        || die "step 2/3 (apt-get install) failed; see $cache/apt.log, then rerun 'wasm/toolchain.sh ensure'"
    in_root apt-get clean
    # Catch2 for wasm is built from Debian's source package (its -dev package
    # ships an x86_64 library only).
    say "step 2/3: apt-get source catch2 into /opt/src"
    in_root sh -c 'mkdir -p /opt/src && cd /opt/src && rm -rf catch2* && apt-get source -qq catch2 && ls -d /opt/src/catch2-*/ >/dev/null' \
        >>"$cache/apt.log" 2>&1 \
        || die "step 2/3 (apt-get source catch2) failed; see $cache/apt.log, then rerun 'wasm/toolchain.sh ensure'"
}

ensure() {
    need_host_tools
    mkdir -p "$cache"
    # The lock serialises setups only: it is released before any command runs,
    # so several `run` commands can work in the root at once.
    exec 9>"$cache/lock"
    flock 9
    local want
    want=$(wanted_stamp)
    if [ -f "$root/.webpickle-stamp" ] && [ "$(cat "$root/.webpickle-stamp")" = "$want" ]; then
        exec 9>&-
        return 0
    fi
    local started=$SECONDS
    [ -d "$root" ] || bootstrap_root
    configure_apt
    install_packages
    say "step 3/3: checking the tools"
    in_root sh -c 'emcc --version | head -n1 && python3.14 --version && node --version' >&2 \
        || die "step 3/3: a tool is missing in the root; see $cache/apt.log"
    echo "$want" >"$root/.webpickle-stamp"
    say "ready in $((SECONDS - started)) s; $(du -sh --one-file-system "$root" | cut -f1) in $root"
    exec 9>&-
}

in_root() {
    # Run a command inside the root with /proc, /dev, /sys and the project mounted,
    # in a private mount namespace that disappears with the command.
    local registry
    registry=$(npm_registry)
    cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
    # Trust what the host trusts (a site may add its own CA for the registries).
    local host_ca=/etc/ssl/certs/ca-certificates.crt ca_env=
    if [ -f "$host_ca" ]; then
        cp -L "$host_ca" "$root/etc/host-ca-certificates.crt"
        ca_env="NODE_EXTRA_CA_CERTS=/etc/host-ca-certificates.crt npm_config_cafile=/etc/host-ca-certificates.crt SSL_CERT_FILE=/etc/host-ca-certificates.crt"
    fi
    mkdir -p "$root$project"
    unshare --mount --propagation private -- /bin/sh -c '
        set -e
        r=$1; p=$2; shift 2
        mount -t proc proc "$r/proc"
        mount --rbind /dev "$r/dev"
        mount --rbind /sys "$r/sys"
        mount -t tmpfs -o size=2g tmpfs "$r/dev/shm" 2>/dev/null || true
        mount --bind "$p" "$r$p"
        exec chroot "$r" "$@"
    ' in_root "$root" "$project" \
        env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" CI="${CI:-}" WEBPICKLE_IN_TOOLCHAIN=1 \
        ${registry:+npm_config_registry=$registry} $ca_env \
        $(env | grep -E '^WEBPICKLE_[A-Z_]*=' | tr '\n' ' ') \
        /bin/sh -c 'cd "$0" && exec "$@"' "$PWD_IN_ROOT" "$@"
}

case "${1:-}" in
    ensure) ensure ;;
    root) echo "$root" ;;
    run)
        shift
        [ $# -gt 0 ] || die "usage: wasm/toolchain.sh run CMD [ARGS...]"
        ensure
        # Keep the caller's directory when it is inside the project.
        case "$PWD/" in "$project"/*) PWD_IN_ROOT=$PWD ;; *) PWD_IN_ROOT=$project ;; esac
        in_root "$@" ;;
    *) die "usage: wasm/toolchain.sh ensure | run CMD [ARGS...] | root" ;;
esac
