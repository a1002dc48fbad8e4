"""test_resolve_aliases.py - `postern aliases` (newaliases) through the
real binary: an aliases(5) file with comments, continuation lines and
quoted items is compiled into the lmdb: table that `postern map -q` (and
the queue's alias_maps) read; a syntax error names FILE:LINE, exits 1 and
leaves the previous table alone (issue "Queue and delivery": "An alias
file with a syntax error: a clear error with file:line from newaliases")."""
import os


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def test_aliases_build_query_and_syntax_error(instance):
    aliases = os.path.join(instance.dir, "aliases")
    write(aliases, "# system aliases\n"
                   "MAILER-DAEMON: postmaster\n"
                   "postmaster: root\n"
                   "team: alice,\n"
                   "\tbob@example.org\n"
                   "filter: \"|/usr/bin/procmail -a list\"\n")
    instance.append_conf("alias_maps = lmdb:%s\n" % aliases)
    r = instance.run("aliases")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "%s: 4 aliases\n" % aliases
    assert os.path.exists(aliases + ".lmdb")
    r = instance.run("map", "-q", "Team", "lmdb:" + aliases)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "alice, bob@example.org\n"
    r = instance.run("map", "-q", "filter", "lmdb:" + aliases)
    assert r.stdout == "\"|/usr/bin/procmail -a list\"\n"

    write(aliases, "postmaster: root\nnobody /dev/null\n")
    r = instance.run("aliases")
    assert r.returncode == 1
    assert ("%s:2: missing ':' after the alias name; write NAME: ADDRESS, ..." % aliases) in r.stderr
    # The old table still answers.
    r = instance.run("map", "-q", "team", "lmdb:" + aliases)
    assert r.stdout == "alice, bob@example.org\n"


def test_aliases_usage(instance):
    r = instance.run("aliases", "extra")
    assert r.returncode == 2
    assert "usage: postern aliases" in r.stderr


def test_unbuilt_alias_table_points_at_newaliases(instance):
    # An alias file is aliases(5), not a postmap source: postern check
    # must not send the admin to `postern map` alone.
    aliases = os.path.join(instance.dir, "aliases")
    write(aliases, "postmaster: root\n")
    instance.append_conf("alias_maps = lmdb:%s\n" % aliases)
    r = instance.run("check")
    assert r.returncode == 1
    assert "alias files are compiled with \"postern aliases\" (newaliases)" in r.stderr, r.stderr
    r = instance.run("aliases")
    assert r.returncode == 0, r.stderr
    r = instance.run("check")
    assert r.returncode == 0, r.stderr
