# bash completion for gif(8). gif itself gives the words (the hidden command
# "gif complete WORD..." with the words typed before the one completed), so
# that they follow the code: its commands, ifconfig's parameters for the
# kind of interface named, the gifs and bridges there are, the sysctls.
_gif() {
	local cur=${COMP_WORDS[COMP_CWORD]} words
	words=$("$1" complete "${COMP_WORDS[@]:1:COMP_CWORD-1}" 2>/dev/null)
	if [[ -z $words ]]; then
		# A file may come here (ipsecctl -f, netstart -d): readline's own.
		compopt -o default 2>/dev/null
		COMPREPLY=()
		return
	fi
	local IFS=$'\n'
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _gif gif
