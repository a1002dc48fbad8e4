"""test_auth_socket.py - the auth role's unix sockets, created by the
master (master/master-unix.c): group and mode from auth_socket_group and
auth_socket_mode even for a group mail_owner is not in, owner mail_owner,
the same socket (inode) kept across a reload that does not change it and
re-created by one that does, unlinked at stop; an unknown group refuses
the start and is reported by `postern check`.

The tests that need another user's group run only as root (CI).
"""
import grp
import os
import pwd
import stat

import pytest

from test_auth import AuthConn, plain

USER = "alice@example.test"
PASSWORD = "socket pw 1"
ROOT = os.geteuid() == 0


def add_user(inst):
    r = inst.run("user", "add", USER, "--password-stdin", input=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr


def sock_path(inst):
    return os.path.join(inst.run_dir, "auth")


def wait_auth(inst):
    inst.wait_for(lambda: inst.role_pid("auth"), "auth role running")
    inst.wait_log("auth: ready")


@pytest.mark.skipif(not ROOT, reason="giving a socket group mail needs root")
def test_socket_gets_group_and_mode_mail_owner_is_not_in(instance):
    # mail is not a group of the postern user: before the master created
    # the socket, the role's chgrp failed and it restarted forever.
    instance.append_conf("auth_socket_group = mail\nauth_socket_mode = 0660\n")
    add_user(instance)
    instance.start()
    wait_auth(instance)
    st = os.lstat(sock_path(instance))
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660
    assert st.st_gid == grp.getgrnam("mail").gr_gid
    assert st.st_uid == pwd.getpwnam("postern").pw_uid
    ust = os.lstat(os.path.join(instance.run_dir, "auth-userdb"))
    assert stat.S_IMODE(ust.st_mode) == 0o600
    assert ust.st_uid == pwd.getpwnam("postern").pw_uid
    # The role serves it, and never needed to restart.
    c = AuthConn(sock_path(instance))
    assert c.auth(1, "PLAIN", plain(USER, PASSWORD))[0] == "OK"
    c.close()
    assert "cannot set mode/owner" not in instance.log_text()
    st_all = instance.status()
    assert [r["restarts"] for r in st_all["roles"] if r["name"] == "auth"] == ["0"]


def test_reload_keeps_unchanged_socket_and_recreates_changed(instance):
    add_user(instance)
    instance.start()
    wait_auth(instance)
    path = sock_path(instance)
    ino = os.lstat(path).st_ino
    old_pid = instance.role_pid("auth")

    r = instance.run("reload")
    assert r.returncode == 0, r.stderr
    instance.wait_for(lambda: instance.role_pid("auth") not in (None, old_pid), "a new auth process")
    assert os.lstat(path).st_ino == ino, "an unchanged socket was re-created on reload"
    c = AuthConn(path)
    assert c.auth(1, "PLAIN", plain(USER, PASSWORD))[0] == "OK"
    c.close()

    old_pid = instance.role_pid("auth")
    instance.append_conf("auth_socket_mode = 0600\n")
    r = instance.run("reload")
    assert r.returncode == 0, r.stderr
    assert "takes effect only after" not in instance.log_text()
    instance.wait_for(lambda: instance.role_pid("auth") not in (None, old_pid), "a new auth process")
    st = os.lstat(path)
    assert st.st_ino != ino
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert not os.path.exists(path + ".new")
    instance.wait_log("auth: ready")
    c = AuthConn(path)
    assert c.auth(1, "PLAIN", plain(USER, PASSWORD))[0] == "OK"
    c.close()

    assert instance.stop() == 0
    assert not os.path.exists(path), "socket left behind after stop"
    assert not os.path.exists(os.path.join(instance.run_dir, "auth-userdb"))


def test_unknown_group_refuses_start_and_check_reports_it(instance):
    instance.append_conf("auth_socket_group = postfx-nope\n")
    line = instance.conf_line_of("auth_socket_group = postfx-nope")
    expect = ('%s:%d: auth_socket_group: no group "postfx-nope"; create it or fix the name'
              % (instance.conf, line))
    r = instance.posternd("-c", instance.conf, "-f")
    assert r.returncode == 1
    assert expect in r.stderr
    assert not os.path.exists(sock_path(instance))
    r = instance.run("check")
    assert r.returncode == 1
    assert expect in r.stderr


def test_stale_socket_replaced_and_non_socket_refused(instance):
    os.makedirs(instance.run_dir, exist_ok=True)
    path = sock_path(instance)
    with open(path, "w") as f:
        f.write("not a socket\n")
    r = instance.posternd("-c", instance.conf, "-f")
    assert r.returncode == 1
    assert ("auth_socket_path: %s exists and is not a socket; remove it or choose another path"
            % path) in r.stderr
    r = instance.run("check")
    assert r.returncode == 1
    assert "%s exists and is not a socket" % path in r.stderr
    os.unlink(path)
    # A socket nobody accepts on, as a killed posternd leaves it.
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()
    add_user(instance)
    instance.start()
    wait_auth(instance)
    c = AuthConn(path)
    assert c.auth(1, "PLAIN", plain(USER, PASSWORD))[0] == "OK"
    c.close()


def test_check_is_quiet_about_default_sockets(instance):
    r = instance.run("check")
    assert r.returncode == 0, r.stderr
    assert "auth_socket" not in r.stderr


@pytest.mark.skipif(not ROOT or not os.path.exists("/usr/bin/setpriv"),
                    reason="running posternd as an ordinary user needs root and setpriv")
def test_without_root_a_foreign_group_refuses_start(tmp_root):
    import subprocess
    from harness import BIN, TIMEOUT, base_env, free_port_base
    # An instance of user postern, started by postern (not root).
    os.chmod(tmp_root, 0o777)
    as_postern = ["setpriv", "--reuid=postern", "--regid=postern", "--init-groups"]
    directory = os.path.join(tmp_root, "user-inst")
    r = subprocess.run(as_postern + [os.path.join(BIN, "postern"), "init", directory,
                                     "--port-base", str(free_port_base()),
                                     "--listen", "127.0.0.1"],
                       capture_output=True, text=True, env=base_env(), timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    conf = os.path.join(directory, "postern.conf")
    with open(conf, "a") as f:
        f.write("auth_socket_group = mail\n")
    line = sum(1 for _ in open(conf))
    r = subprocess.run(as_postern + [os.path.join(BIN, "posternd"), "-c", conf, "-f"],
                       capture_output=True, text=True, env=base_env(), timeout=TIMEOUT)
    assert r.returncode == 1
    assert ('%s:%d: auth_socket_group: posternd runs as postern without root, and postern is '
            'not in group "mail", so auth_socket_path cannot be given that group; start '
            'posternd as root, add the user to the group (usermod -aG mail postern), or leave '
            'auth_socket_group empty' % (conf, line)) in r.stderr
    assert not os.path.exists(os.path.join(directory, "run", "auth"))
