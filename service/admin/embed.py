#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes service/admin_assets.c from the admin page's files.

usage: python3 service/admin/embed.py [--check]

The page (index.html, app.js, style.css in this folder) is compiled into
scbridge, so the container needs no extra files. Each line of a file
becomes one C string literal (long lines are cut into pieces), which keeps
every literal far below the 4095 characters ISO C promises and every line
of the C file within 80 columns. With --check nothing is written; the exit
status is 1 when admin_assets.c is out of date. tests/e2e/test_admin.py
also compares what the service serves with these files.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "admin_assets.c")
FILES = [
    ("index.html", "text/html; charset=utf-8", "ra_index"),
    ("app.js", "text/javascript; charset=utf-8", "ra_app_js"),
    ("style.css", "text/css; charset=utf-8", "ra_style_css"),
]
PIECE = 68  # characters of one literal's escaped content

HEAD = """\
/* SPDX-License-Identifier: MIT */
/* The admin page's files, compiled in; made by service/admin/embed.py. */
#include <string.h>

#include "route_admin.h"

/*
 * Do not edit by hand: change service/admin/<file> and run
 * "python3 service/admin/embed.py". One literal per line of each file.
 */
"""

TAIL = """\
static const struct route_admin_asset ra_assets[] = {
%s};

const struct route_admin_asset *route_admin_asset_find(const char *name)
{
    for (size_t i = 0; i < sizeof(ra_assets) / sizeof(ra_assets[0]); i++) {
        if (strcmp(ra_assets[i].name, name) == 0)
            return &ra_assets[i];
    }
    return NULL;
}

enum scb_err route_admin_asset_text(const struct route_admin_asset *a,
                                    struct buf *out)
{
    enum scb_err err = SCB_OK;

    for (size_t i = 0; !err && a->lines[i]; i++)
        err = buf_puts(out, a->lines[i]);
    return err;
}
"""


def escape_char(c, prev):
    if c == "\\":
        return "\\\\"
    if c == '"':
        return '\\"'
    if c == "\n":
        return "\\n"
    if c == "\t":
        return "\\t"
    # "??x" could read as a trigraph in ISO C mode.
    if c == "?" and prev == "?":
        return "\\?"
    if not (" " <= c <= "~"):
        raise ValueError("only printable ASCII, tab and newline: %r" % c)
    return c


def pieces(line):
    """The escaped literals of one line (newline included)."""
    out, cur, prev = [], "", ""
    for c in line:
        e = escape_char(c, prev)
        if len(cur) + len(e) > PIECE:
            out.append(cur)
            cur = ""
        cur += e
        prev = c
    if cur:
        out.append(cur)
    return out


def render():
    parts = [HEAD]
    table = []
    for name, ctype, sym in FILES:
        with open(os.path.join(HERE, name), encoding="ascii") as f:
            text = f.read()
        parts.append("\nstatic const char *const %s[] = {\n" % sym)
        for line in text.splitlines(keepends=True):
            for p in pieces(line):
                parts.append('    "%s",\n' % p)
        parts.append("    NULL,\n};\n")
        table.append('    { "%s", "%s",\n      %s },\n' % (name, ctype, sym))
    parts.append("\n" + TAIL % "".join(table))
    return "".join(parts)


def main(argv):
    text = render()
    for n, line in enumerate(text.splitlines(), 1):
        if len(line) > 80:
            raise SystemExit("embed: line %d is over 80 columns" % n)
    if "--check" in argv:
        try:
            with open(OUT, encoding="ascii") as f:
                same = f.read() == text
        except OSError:
            same = False
        if not same:
            print("embed: service/admin_assets.c is out of date")
        return 0 if same else 1
    with open(OUT, "w", encoding="ascii") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
