# lib-imap.sh: a real IMAP server for the tests: Debian's Dovecot on
# 127.0.0.1, with a throw-away configuration in $T/dovecot. Source it
# after lib.sh; it skips the test (exit 77) when Dovecot or openssl is
# missing.
#
#   imap_start            start Dovecot: $IMAPS (implicit TLS) and $IMAP
#                         (143-style, STARTTLS or plain) ports; users
#                         alice@firm.example (secret1) and bob (secret2)
#   imap_msg USER FOLDER NAME < MESSAGE   a message into a Maildir folder
#   imap_folder_rm USER FOLDER            a folder deleted
#   imap_passwd USER PASSWORD             a password changed
#   imap_rawlog USER      the server's side of the user's sessions, as
#                         Dovecot's rawlog wrote them (*.out: what it
#                         sent; *.in: what it received)
#
# MAILSYNC_CA_FILE is set to the server's self-signed certificate. Runs
# as root (CI: the mail user is nobody, Dovecot's own users are dovecot
# and dovenull) or as any other user (everything as that user).

[ -x /usr/sbin/dovecot ] || { echo "1..0 # SKIP /usr/sbin/dovecot absent (apt-get install dovecot-imapd)"; exit 77; }
command -v openssl >/dev/null || { echo "1..0 # SKIP openssl absent"; exit 77; }

D="$T/dovecot"
mkdir -p "$D/run" "$D/state" "$D/mail" "$D/rawlog"
chmod 755 "$T" "$D"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

if [ "$(id -u)" -eq 0 ]; then
	imap_internal=dovecot imap_login=dovenull imap_uid=nobody imap_gid=nogroup
else
	imap_internal=$(id -un) imap_login=$(id -un) imap_uid=$(id -un) imap_gid=$(id -gn)
fi

imap_passwd_n=0
imap_passwd() {
	# Dovecot reads the file again when its time or size changes: a
	# time of its own each time, in case both writes fall in a second.
	tmp="$D/passwd.new"
	grep -v "^$1:" "$D/passwd" 2>/dev/null >"$tmp"
	echo "$1:{PLAIN}$2" >>"$tmp"
	chmod 644 "$tmp"
	imap_passwd_n=$((imap_passwd_n + 10))
	touch -d "@$(($(date +%s) + imap_passwd_n))" "$tmp"
	mv "$tmp" "$D/passwd"
	# Until Dovecot has read it (a running one: after imap_start).
	[ -s "$D/run/master.pid" ] || return 0
	for _ in $(seq 50); do
		doveadm -c "$D/dovecot.conf" auth test "$1" "$2" >/dev/null 2>&1 &&
			return 0
		sleep 0.1
	done
	echo "# Dovecot did not take the new password of $1"
}

imap_start() {
	IMAP=$(free_port)
	IMAPS=$(free_port)
	[ "$IMAP" != "$IMAPS" ] || IMAPS=$(free_port)
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/key.pem" \
		-out "$D/cert.pem" -days 2 -subj /CN=localhost \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null ||
		{ echo "Bail out! openssl req failed"; exit 1; }
	chmod 644 "$D/key.pem" "$D/cert.pem"
	export MAILSYNC_CA_FILE="$D/cert.pem"
	imap_passwd alice@firm.example secret1
	imap_passwd bob secret2
	cat >"$D/dovecot.conf" <<EOF
base_dir = $D/run
state_dir = $D/state
log_path = $D/dovecot.log
info_log_path = $D/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <$D/cert.pem
ssl_key = <$D/key.pem
auth_mechanisms = plain login
default_internal_user = $imap_internal
default_login_user = $imap_login
login_trusted_networks = 127.0.0.1/32
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $D/passwd
}
userdb {
  driver = static
  args = uid=$imap_uid gid=$imap_gid home=$D/mail/%u
}
mail_location = maildir:$D/mail/%u
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $IMAPS
    ssl = yes
  }
}
service anvil {
  chroot =
}
protocol imap {
  rawlog_dir = $D/rawlog/%u
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Trash {
    special_use = \\Trash
  }
  mailbox Junk {
    special_use = \\Junk
  }
  mailbox Drafts {
    special_use = \\Drafts
  }
  mailbox Sent {
    special_use = \\Sent
  }
  mailbox Spam {
  }
}
EOF
	/usr/sbin/dovecot -c "$D/dovecot.conf" ||
		{ echo "Bail out! dovecot did not start"; cat "$D/dovecot.log"; exit 1; }
	trap 'imap_stop; rm -rf "$T"' EXIT
	for _ in $(seq 50); do
		[ -s "$D/run/master.pid" ] && break
		sleep 0.1
	done
}

imap_stop() {
	[ -s "$D/run/master.pid" ] && kill "$(cat "$D/run/master.pid")" 2>/dev/null
	for _ in $(seq 50); do
		[ -e "$D/run/master.pid" ] || break
		sleep 0.1
	done
}

# The Maildir of a folder ("INBOX", "Sent", "Projects/2026").
imap_dir() {
	if [ "$2" = INBOX ]; then
		echo "$D/mail/$1"
	else
		echo "$D/mail/$1/.$(echo "$2" | tr / .)"
	fi
}

imap_msg() {
	d=$(imap_dir "$1" "$2")
	mkdir -p "$d/cur" "$d/new" "$d/tmp" "$D/rawlog/$1"
	cat >"$d/cur/$3:2,S"
	[ "$(id -u)" -eq 0 ] && chown -R "$imap_uid:$imap_gid" "$D/mail/$1" "$D/rawlog/$1"
	return 0
}

imap_folder_rm() {
	rm -rf "$(imap_dir "$1" "$2")"
}

imap_rawlog() {
	cat "$D/rawlog/$1"/*."$2" 2>/dev/null
}
