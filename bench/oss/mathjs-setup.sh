#!/usr/bin/env bash
# Lays out mathjs 3.20.2's own test suite (mocha, 4,019 tests in 249 files)
# for `testudo bench oss-suite`: its npm tarball ships test/, the library and
# everything the tests load but one helper, tools/approx.js, which is written
# here. Needs only the npm registry. Usage: bench/oss/mathjs-setup.sh [DIR]
# (default /tmp/testudo-oss/mathjs); then
#   npm run testudo -- bench oss-suite --spec DIR/package/testudo.yaml
set -euo pipefail

version=3.20.2
dir=${1:-/tmp/testudo-oss/mathjs}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
cd "$dir"
if [ ! -d package ]; then
  npm pack --silent "mathjs@$version" >/dev/null
  tar xzf "mathjs-$version.tgz"
fi
cd package
# The library's dependencies, then the runner: mocha with a JUnit reporter,
# and underscore, which two test files load.
npm install --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null
npm install --no-save --ignore-scripts --no-audit --no-fund mocha@10.8.2 mocha-junit-reporter@2.2.1 underscore@1.8.3 >/dev/null
mkdir -p tools
cp "$here/mathjs-approx.cjs" tools/approx.js
cp "$here/mathjs.testudo.yaml" testudo.yaml
echo "$dir/package/testudo.yaml"
