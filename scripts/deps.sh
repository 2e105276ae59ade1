#!/bin/sh
# Installs the Debian packages vabill builds, runs and tests with.
# Runs apt-get update once per call; needs root (or sudo).
set -eu
pkgs="build-essential cmake pkg-config clang clang-format cppcheck python3
      libclang-rt-14-dev libfuzzer-14-dev
      libmicrohttpd-dev libjansson-dev libjsmn-dev libsqlite3-dev sqlite3 postgresql libpq-dev libssl-dev
      libcurl4-openssl-dev libcmocka-dev curl openssl
      groff-base man-db
      chromium fonts-dejavu-core"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $pkgs
