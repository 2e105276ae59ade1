#!/bin/sh
# clang-format and cppcheck over the C sources; fails on any finding.
set -eu
cd "$(dirname "$0")/.."
files=$(find src tests -name "*.[ch]" | sort)
# shellcheck disable=SC2086
clang-format --dry-run --Werror $files
# shellcheck disable=SC2086
cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
    --inline-suppr --std=c11 -I src --suppress=missingIncludeSystem $files
