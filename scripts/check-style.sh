#!/bin/sh
# SPDX-License-Identifier: MIT
# The checks of `make check` (STYLE.md, A and J): clang-format, line width,
# work marks, banned calls and cppcheck. Every problem is printed as
# "file:line: message"; the exit status is 1 when any check failed.
#
# The clang-format step only reports: clang-format always re-packs argument
# lists and re-aligns trailing comments, which the existing code lays out by
# hand, so enforcing it would mean reformatting every file. Set
# SCB_FORMAT_STRICT=1 to make its findings fail the run. The width check
# enforces the 80-column rule itself.
set -u
cd "$(dirname "$0")/.." || exit 2

tmp=$(mktemp -d /tmp/scb-check.XXXXXX) || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
status=0

# C sources and headers under the given directories (missing ones skipped).
c_files() {
    for d in "$@"; do
        [ -d "$d" ] && find "$d" -type f \( -name '*.c' -o -name '*.h' \)
    done | sort
}

need() {
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "check-style: $1 not found (scripts/install-deps.sh --test)"
        status=1
        return 1
    fi
    return 0
}

format_check() {
    n=0
    for f in $(c_files service include tests/unit tests/sim tests/tools); do
        if ! clang-format --dry-run --Werror "$f" >/dev/null \
            2>"$tmp/format.out"; then
            first=$(sed -n 's/^[^:]*:\([0-9]*\):.*/\1/p' "$tmp/format.out" |
                head -n 1)
            count=$(grep -c 'clang-format-violations' "$tmp/format.out")
            if [ "${SCB_FORMAT_STRICT:-0}" = 1 ] ||
                [ "${SCB_FORMAT_VERBOSE:-0}" = 1 ]; then
                echo "$f:${first:-1}: clang-format would change" \
                    "$count place(s)"
            fi
            n=$((n + 1))
        fi
    done
    if [ "$n" -gt 0 ] && [ "${SCB_FORMAT_STRICT:-0}" = 1 ]; then
        status=1
    elif [ "$n" -gt 0 ]; then
        echo "check-style: clang-format differs in $n file(s) (report" \
            "only; SCB_FORMAT_VERBOSE=1 lists them, SCB_FORMAT_STRICT=1" \
            "enforces it)"
    fi
}

# Width, work marks and banned calls, in one pass over the files.
text_checks() {
    c_files service include tests >"$tmp/c-files"
    find service include tests/unit tests/sim -type f 2>/dev/null |
        sort >"$tmp/mark-files"
    python3 - "$tmp/c-files" "$tmp/mark-files" <<'PY' || status=1
import re
import sys

WIDTH = 80
MARK = re.compile(r"\b(TODO|FIXME|XXX|HACK)\b")
BANNED = re.compile(r"\b(sprintf|strcpy|strcat|strncpy|strncat|gets|strtok"
                    r"|atoi|atol|atof)\s*\(")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
# C comments and literals, so a banned name in either is no call.
LEXEME = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:[^"\\\n]|\\.)*"'
                    r"|'(?:[^'\\\n]|\\.)*'", re.S)


def read_lines(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read().split("\n")


def exempt(line):
    """True when the overflow is one string literal: the line's last literal
    starts within the limit and only closing punctuation follows it."""
    last = None
    for last in STRING.finditer(line):
        pass
    return (last is not None and last.start() < WIDTH and
            re.fullmatch(r"[\s),;]*", line[last.end():]) is not None)


def blank(m):
    return re.sub(r"[^\n]", " ", m.group(0))


bad = 0
for path in open(sys.argv[1]).read().split():
    lines = read_lines(path)
    for i, line in enumerate(lines, 1):
        if len(line) > WIDTH and not exempt(line):
            print("%s:%d: line is %d columns (limit %d)"
                  % (path, i, len(line), WIDTH))
            bad += 1
    code = LEXEME.sub(blank, "\n".join(lines))
    for i, line in enumerate(code.split("\n"), 1):
        m = BANNED.search(line)
        if m:
            print("%s:%d: banned call %s()" % (path, i, m.group(1)))
            bad += 1
for path in open(sys.argv[2]).read().split():
    for i, line in enumerate(read_lines(path), 1):
        m = MARK.search(line)
        if m:
            print("%s:%d: work mark %s (write a limitation in README.md "
                  "instead)" % (path, i, m.group(1)))
            bad += 1
sys.exit(1 if bad else 0)
PY
}

cppcheck_check() {
    # cppcheck does not read the system's cJSON header; it needs the
    # iteration macro spelled out to parse the loops that use it.
    cat >"$tmp/cjson.cfg" <<'XML'
<?xml version="1.0"?>
<def format="2">
  <define name="cJSON_ArrayForEach(element, array)"
    value="for (element = (array != NULL) ? (array)->child : NULL; element != NULL; element = element->next)"/>
</def>
XML
    dirs=""
    for d in service tests/sim; do
        [ -d "$d" ] && dirs="$dirs $d"
    done
    # shellcheck disable=SC2086
    cppcheck --error-exitcode=1 --enable=warning,performance,portability \
        --inline-suppr -Iinclude --quiet --library="$tmp/cjson.cfg" \
        --template='{file}:{line}: cppcheck {severity}: {message} [{id}]' \
        $dirs 2>&1 || status=1
}

if need clang-format; then
    format_check
fi
if need python3; then
    text_checks
fi
if need cppcheck; then
    cppcheck_check
fi

if [ "$status" -ne 0 ]; then
    echo "check-style: FAILED"
else
    echo "check-style: ok"
fi
exit "$status"
