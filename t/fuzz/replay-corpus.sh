#!/bin/sh
# Replay the fuzz corpora through the standalone fuzz targets.
set -e
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
"$top_builddir"/t/fuzz/replay_h1_parse "$top_srcdir"/t/fuzz/corpus/h1_parse/*
"$top_builddir"/t/fuzz/replay_config "$top_srcdir"/t/fuzz/corpus/config
"$top_builddir"/t/fuzz/replay_xds "$top_srcdir"/t/fuzz/corpus/xds
"$top_builddir"/t/fuzz/replay_xds_client "$top_srcdir"/t/fuzz/corpus/xds
