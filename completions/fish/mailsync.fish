# fish completion for the mailsync tools.
#
# One file for mailsync-clients, mailsync-connect, mailsync-disconnect,
# mailsync-match, mailsync-pull, mailsync-record and mailsync-show; fish
# loads completions by command name, so it is installed once per command
# name. Loading it again replaces, not duplicates.

# The mailsync-clients subcommand on the command line, if any. The value of
# -d/--db is not one.
function __mailsync_clients_subcommand
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
            switch $t
                case --
                    set ddash 1
                    continue
                case -d --db
                    set skip 1
                    continue
                case '-*'
                    continue
            end
        end
        echo $t
        return 0
    end
    return 1
end

function __mailsync_clients_needs_subcommand
    not __mailsync_clients_subcommand >/dev/null
end

function __mailsync_clients_using
    test (__mailsync_clients_subcommand) = $argv[1] 2>/dev/null
end

for c in mailsync-clients mailsync-connect mailsync-disconnect mailsync-match \
    mailsync-pull mailsync-record mailsync-show
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

# mailsync-record [FILE|-]
complete -c mailsync-record -F

# mailsync-match [--rematch]
complete -c mailsync-match -s r -l rematch -d 'Re-evaluate every email'

# mailsync-pull
complete -c mailsync-pull -s a -l account -x \
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
complete -c mailsync-show -l html -d 'Print an HTML table'
complete -c mailsync-show -l color -x -a 'auto always never' \
    -d 'When to colour the table'
complete -c mailsync-show -s n -l limit -x -d 'Print at most N emails'
complete -c mailsync-show -s s -l since -x -d 'Only emails since DATE (YYYY-MM-DD)'
complete -c mailsync-show -s S -l source -x -a 'crm gmail outlook' \
    -d 'Only emails from this source'
complete -c mailsync-show -l view -x -d 'Print a CRM email in full'
complete -c mailsync-show -l accounts -d 'List the connected accounts'
complete -c mailsync-show -l check -d 'With --accounts: exit 1 when an account is unhealthy'

# mailsync-connect
complete -c mailsync-connect -s p -l provider -x -a 'gmail outlook' \
    -d 'The provider'
complete -c mailsync-connect -l client-id -x -d "The OAuth app's client id (stored)"
complete -c mailsync-connect -l client-secret-file -r -F \
    -d 'Read the client secret from FILE'
complete -c mailsync-connect -l client-secret-stdin \
    -d 'Read the client secret from stdin'
complete -c mailsync-connect -l tenant -x \
    -a 'common organizations consumers' -d 'The Microsoft tenant'
complete -c mailsync-connect -l setup -d 'Store the app credentials and stop'
complete -c mailsync-connect -s m -l member -x -d 'The team member (default: you)'
complete -c mailsync-connect -l login-hint -x -d 'The mailbox to sign in with'
complete -c mailsync-connect -l no-browser -d 'Print the URL, open no browser'
complete -c mailsync-connect -l paste \
    -d 'Read the redirected URL (or the code) from stdin'
complete -c mailsync-connect -l device-code \
    -d 'Outlook: sign in on another device'
complete -c mailsync-connect -l port -x -d 'Loopback listener port'
complete -c mailsync-connect -l timeout -x -d 'Give up after SECONDS (default 300)'

# mailsync-disconnect [--provider gmail|outlook] ADDRESS
complete -c mailsync-disconnect -s p -l provider -x -a 'gmail outlook' \
    -d 'The provider, when the address is both'
