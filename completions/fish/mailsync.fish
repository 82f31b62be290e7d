# fish completion for the mailsync tools.
#
# One file for mailsync-clients, mailsync-config, mailsync-connect,
# mailsync-disconnect, mailsync-match, mailsync-pull, mailsync-record and
# mailsync-show; fish loads completions by command name, so it is installed
# once per command name. Loading it again replaces, not duplicates.

# __mailsync_args OPTION...: the words of the command line that are not
# options, one a line; the value after each OPTION given (an option that
# takes one) is not among them, nor is anything before "--" an option.
function __mailsync_args
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l skip 0
    set -l ddash 0
    for t in $tokens
        if test $skip = 1
            set skip 0
            continue
        end
        if test $ddash = 0
            if test "$t" = --
                set ddash 1
                continue
            else if contains -- $t $argv
                set skip 1
                continue
            else if string match -q -- '-*' $t
                continue
            end
        end
        echo $t
    end
end

# __mailsync_dbargs: the -d/--db of the command line, as arguments for
# the tools asked below.
function __mailsync_dbargs
    set -l tokens (commandline -opc)
    set -l db
    for i in (seq 2 (count $tokens))
        switch $tokens[$i]
            case -d --db
                set -l j (math $i + 1)
                set -q tokens[$j]; and set db $tokens[$j]
            case '--db=*'
                set db (string replace -- --db= '' $tokens[$i])
        end
    end
    test -n "$db"; and printf '%s\n' --db $db
end

# __mailsync_clients [KIND]: client ids and addresses (KIND id or address:
# only those) that start with the word at the cursor, with what each
# names, from the tool itself (one indexed range read; no sqlite3 CLI; a
# missing database offers nothing and creates nothing).
function __mailsync_clients
    set -l kind $argv[1]
    mailsync-clients (__mailsync_dbargs) list --ids --limit 500 -- \
        (commandline -ct) 2>/dev/null |
        while read -l -d \t value k what
            test -z "$kind"; or test "$k" = "$kind"; or continue
            printf '%s\t%s\n' $value $what
        end
end

# __mailsync_accounts: the connected accounts' addresses (of the
# -p/--provider given, if any), with their provider.
function __mailsync_accounts
    set -l prov (__mailsync_args_value -p --provider)
    mailsync-show (__mailsync_dbargs) --accounts --tsv 2>/dev/null |
        while read -l -d \t p address rest
            test -z "$prov"; or test "$p" = "$prov"; or continue
            printf '%s\t%s\n' $address $p
        end
end

# __mailsync_args_value OPTION...: the value given to the last OPTION.
function __mailsync_args_value
    set -l tokens (commandline -opc)
    set -l v
    for i in (seq 2 (count $tokens))
        if contains -- $tokens[$i] $argv
            set -l j (math $i + 1)
            set -q tokens[$j]; and set v $tokens[$j]
        end
    end
    test -n "$v"; and echo $v
end

# The mailsync-clients subcommand on the command line, if any.
function __mailsync_clients_subcommand
    set -l args (__mailsync_args -d --db)
    test (count $args) -gt 0; or return 1
    echo $args[1]
end

function __mailsync_clients_needs_subcommand
    not __mailsync_clients_subcommand >/dev/null
end

function __mailsync_clients_using
    test (__mailsync_clients_subcommand) = $argv[1] 2>/dev/null
end

# The mailsync-config command and its arguments on the command line.
function __mailsync_config_args
    __mailsync_args -d --db -p --provider
end

function __mailsync_config_needs_command
    test (count (__mailsync_config_args)) = 0
end

# __mailsync_config_using COMMAND... [-n N]: the command is one of
# COMMANDs (and, with -n, N of its arguments are given already).
function __mailsync_config_using
    argparse 'n=' -- $argv
    or return 1
    set -l args (__mailsync_config_args)
    test (count $args) -gt 0; or return 1
    contains -- $args[1] $argv; or return 1
    if set -q _flag_n
        test (math (count $args) - 1) = $_flag_n; or return 1
    end
    return 0
end

# set KEY <TAB> where KEY is on or off.
function __mailsync_config_bool_value
    set -l args (__mailsync_config_args)
    test (count $args) = 2; and test $args[1] = set; or return 1
    contains -- $args[2] match.plus_addressing match.gmail_dots \
        exclude.internal exclude.bulk
end

for c in mailsync-clients mailsync-config mailsync-connect \
    mailsync-disconnect mailsync-match mailsync-pull mailsync-record \
    mailsync-show
    complete -c $c -f
    complete -c $c -s h -l help -d 'Print usage and exit'
    complete -c $c -s V -l version -d 'Print the version and exit'
    complete -c $c -s d -l db -r -F -d 'Database file'
    complete -c $c -s v -l verbose -d 'Print more on stderr (repeatable)'
    complete -c $c -s q -l quiet -d 'Print only errors'
end

# mailsync-clients import|list|remove
complete -c mailsync-clients -n __mailsync_clients_needs_subcommand \
    -a import -d 'Import client records (JSON Lines or CSV)'
complete -c mailsync-clients -n __mailsync_clients_needs_subcommand \
    -a list -d 'List the clients'
complete -c mailsync-clients -n __mailsync_clients_needs_subcommand \
    -a remove -d 'Remove a client'
complete -c mailsync-clients -n '__mailsync_clients_using import' \
    -l csv -d 'Read CSV instead of JSON Lines'
complete -c mailsync-clients -n '__mailsync_clients_using import' \
    -l replace -d 'Also remove the clients absent from the input'
complete -c mailsync-clients -n '__mailsync_clients_using import' -F
complete -c mailsync-clients -n '__mailsync_clients_using list' \
    -l json -d 'Print JSON Lines in the import format'
complete -c mailsync-clients -n '__mailsync_clients_using list' \
    -l tsv -d 'Print tab-separated values'
complete -c mailsync-clients -n '__mailsync_clients_using list' \
    -l ids -d 'For completion: ids and addresses that start with PREFIX'
complete -c mailsync-clients -n '__mailsync_clients_using list' \
    -s n -l limit -x -d 'With --ids: at most N lines (0: all)'
complete -c mailsync-clients -n '__mailsync_clients_using remove' \
    -a '(__mailsync_clients id)'

# mailsync-config COMMAND [ARGUMENT]...
complete -c mailsync-config -n __mailsync_config_needs_command -a list \
    -d 'Print every setting (KEY=VALUE)'
complete -c mailsync-config -n __mailsync_config_needs_command -a get \
    -d 'Print the value of a setting'
complete -c mailsync-config -n __mailsync_config_needs_command -a set \
    -d 'Check and store a setting'
complete -c mailsync-config -n __mailsync_config_needs_command -a unset \
    -d 'Set a setting back to its default'
complete -c mailsync-config -n __mailsync_config_needs_command -a block \
    -d 'Never match these addresses or @domains'
complete -c mailsync-config -n __mailsync_config_needs_command -a unblock \
    -d 'Take addresses or @domains off the blocklist'
complete -c mailsync-config -n __mailsync_config_needs_command -a blocklist \
    -d 'Print the blocklist'
complete -c mailsync-config -n __mailsync_config_needs_command -a alias \
    -d 'Add an address to an account by hand'
complete -c mailsync-config -n __mailsync_config_needs_command -a unalias \
    -d 'Remove an alias added by hand'
complete -c mailsync-config -n __mailsync_config_needs_command -a aliases \
    -d 'Print every alias'
# The settings, as "mailsync-config list" prints them (a static list:
# asking the tool would create a database where there is none).
complete -c mailsync-config -n '__mailsync_config_using get set unset -n 0' \
    -a sync.since -d 'First sync of a new account starts at this date'
complete -c mailsync-config -n '__mailsync_config_using get set unset -n 0' \
    -a retention.unmatched_days -d 'Delete unmatched synced emails after N days'
complete -c mailsync-config -n '__mailsync_config_using get set unset -n 0' \
    -a match.plus_addressing -d 'user+tag@domain matches user@domain'
complete -c mailsync-config -n '__mailsync_config_using get set unset -n 0' \
    -a match.gmail_dots -d 'Dots in Gmail names do not count'
complete -c mailsync-config -n '__mailsync_config_using get set unset -n 0' \
    -a exclude.internal -d 'Mail among the team is on no profile'
complete -c mailsync-config -n '__mailsync_config_using get set unset -n 0' \
    -a exclude.bulk -d 'Newsletters and automated mail are on no profile'
complete -c mailsync-config -n '__mailsync_config_using get set unset -n 0' \
    -a imap.exclude -d 'IMAP folders not synced'
complete -c mailsync-config -n '__mailsync_config_using get set unset -n 0' \
    -a health.stale_minutes -d 'An account not synced for this long is stale'
complete -c mailsync-config -n '__mailsync_config_using get set unset -n 0' \
    -a gmail.fetch -d 'How a first Gmail sync fetches'
complete -c mailsync-config -n '__mailsync_config_using get set unset -n 0' \
    -a quota.gmail_units_per_minute -d 'Gmail quota units per mailbox per minute'
complete -c mailsync-config -n '__mailsync_config_using get set unset -n 0' \
    -a quota.gmail_concurrency -d 'Gmail requests in flight per mailbox'
complete -c mailsync-config -n '__mailsync_config_using get set unset -n 0' \
    -a quota.graph_requests_per_10min -d 'Graph requests per mailbox per 10 minutes'
complete -c mailsync-config -n '__mailsync_config_using get set unset -n 0' \
    -a quota.graph_concurrency -d 'Graph requests in flight per mailbox'
complete -c mailsync-config -n '__mailsync_config_using get set unset -n 0' \
    -a quota.time_scale -d 'Quota windows divided by this (emulators only)'
complete -c mailsync-config -n '__mailsync_config_using get set unset -n 0' \
    -a outlook.folders -d 'Outlook folders synced: all or inbox-sent'
complete -c mailsync-config -n '__mailsync_config_using get set unset -n 0' \
    -a outlook.exclude -d 'Outlook folders not synced, by name or path'
complete -c mailsync-config -n __mailsync_config_bool_value -a 'on off'
complete -c mailsync-config -s j -l json \
    -n '__mailsync_config_needs_command; or __mailsync_config_using list blocklist aliases' \
    -d 'Print JSON Lines'
complete -c mailsync-config -n '__mailsync_config_using alias unalias -n 0' \
    -a '(__mailsync_accounts)'
complete -c mailsync-config -s p -l provider -x -a 'gmail outlook imap' \
    -n '__mailsync_config_needs_command; or __mailsync_config_using alias unalias' \
    -d 'The provider of ACCOUNT, when it is both'

# mailsync-record [FILE|-]
complete -c mailsync-record -F

# mailsync-match [--rematch]
complete -c mailsync-match -s r -l rematch -d 'Re-evaluate every email'

# mailsync-pull
complete -c mailsync-pull -s a -l account -x -a '(__mailsync_accounts)' \
    -d 'Only this account (repeatable)'
complete -c mailsync-pull -l full -d 'Forget the cursors: sync everything again'
complete -c mailsync-pull -s s -l since -x \
    -d 'A first sync keeps emails from DATE on (YYYY-MM-DD)'
complete -c mailsync-pull -s t -l max-time -x \
    -d 'Start no new work after SECONDS'
complete -c mailsync-pull -s j -l json -d 'Print one JSON line per account'

# mailsync-show
complete -c mailsync-show -s j -l json -d 'Print JSON Lines'
complete -c mailsync-show -s t -l tsv -d 'Print tab-separated values'
complete -c mailsync-show -l html -d 'Print a standalone HTML page'
complete -c mailsync-show -l fragment -d 'With --html: the table alone'
complete -c mailsync-show -l color -x -a 'auto always never' \
    -d 'When to colour the table'
complete -c mailsync-show -s n -l limit -x -d 'Print at most N emails'
complete -c mailsync-show -s s -l since -x -d 'Only emails since DATE (YYYY-MM-DD)'
complete -c mailsync-show -s S -l source -x -a 'crm gmail outlook imap' \
    -d 'Only emails from this source'
complete -c mailsync-show -l view -x -d 'Print a CRM email in full'
complete -c mailsync-show -l accounts -d 'List the connected accounts'
complete -c mailsync-show -l check -d 'With --accounts: exit 1 when an account is unhealthy'
# CLIENT: a CRM id or an address on its record.
complete -c mailsync-show -n 'not contains -- --accounts (commandline -opc); and test (count (__mailsync_args -d --db --color -n --limit -s --since -S --source --view)) = 0' \
    -a '(__mailsync_clients)'

# mailsync-connect
complete -c mailsync-connect -s p -l provider -x -a 'gmail outlook imap' \
    -d 'The provider'
complete -c mailsync-connect -l client-id -x -d "The OAuth app's client id (stored)"
complete -c mailsync-connect -l client-secret-file -r -F \
    -d 'Read the client secret from FILE'
complete -c mailsync-connect -l client-secret-stdin \
    -d 'Read the client secret from stdin'
complete -c mailsync-connect -l tenant -x \
    -a 'common organizations consumers' -d 'The Microsoft tenant'
complete -c mailsync-connect -l setup -d 'Store the app credentials and stop'
complete -c mailsync-connect -l new-key -d 'With --setup: a new key over a lost one'
complete -c mailsync-connect -s m -l member -x -d 'The team member (default: you)'
complete -c mailsync-connect -l login-hint -x -d 'The mailbox to sign in with'
complete -c mailsync-connect -l no-browser -d 'Print the URL, open no browser'
complete -c mailsync-connect -l paste \
    -d 'Read the redirected URL (or the code) from stdin'
complete -c mailsync-connect -l device-code \
    -d 'Outlook: sign in on another device'
complete -c mailsync-connect -l port -x -d 'Loopback listener port'
complete -c mailsync-connect -l timeout -x -d 'Give up after SECONDS (default 300)'
complete -c mailsync-connect -l shared -x -d 'Outlook: connect this shared mailbox'
complete -c mailsync-connect -l host -x -a '(__fish_print_hostnames)' \
    -d 'IMAP: the server'
complete -c mailsync-connect -l imap-port -x -d 'IMAP: the port (default 993)'
complete -c mailsync-connect -l starttls -d 'IMAP: STARTTLS, not implicit TLS'
complete -c mailsync-connect -l plain -d 'IMAP: no TLS, loopback only'
complete -c mailsync-connect -l user -x -d 'IMAP: the login name'
complete -c mailsync-connect -l password-file -r -F \
    -d 'IMAP: read the password from FILE'
complete -c mailsync-connect -l password-stdin -d 'IMAP: read the password from stdin'

# mailsync-disconnect [--provider gmail|outlook] [--purge [--yes]] ADDRESS
complete -c mailsync-disconnect -n 'test (count (__mailsync_args -d --db -p --provider)) = 0' \
    -a '(__mailsync_accounts)'
complete -c mailsync-disconnect -s p -l provider -x -a 'gmail outlook imap' \
    -d 'The provider, when the address is both'
complete -c mailsync-disconnect -l purge \
    -d 'Also delete the account and the emails only it synced'
complete -c mailsync-disconnect -s y -l yes -d 'With --purge: do not ask'
