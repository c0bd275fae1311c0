# Shared by the strategies: each is a script that plays one team of a running game
# through `gameday ctl`, found from GAMEDAY_API and GAMEDAY_TOKEN (bench/strategies/run
# sets them), and exits when its plan is done or the game is over.
set -u
ctl() { "$GAMEDAY_ROOT/build/gameday" ctl "$@"; }
q() { ctl "$@" > /dev/null 2>> "${STRATEGY_LOG:-/dev/null}" || true; }
# The game clock (game seconds) and state.
clock() { ctl --json status | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["clock"]))'; }
state() { ctl --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])'; }
# Waits until the game clock reaches T game seconds (or the game ends).
at() {
  while :; do
    c=$(clock 2>/dev/null || echo -1)
    [ "$c" -ge "$1" ] && return 0
    [ "$(state 2>/dev/null || echo ended)" = running ] || exit 0
    sleep 0.2
  done
}
# Room to grow: a second private subnet for the group (the first has 11 addresses),
# and a higher max.
room() {
  q create subnet private-b "vpc=main" "cidr=127.$TEAM_OCTET.2.0/24" az=b
  q update web 'subnets=["private-a","private-b"]' "max=${1:-40}"
}
# An alb in front of the group, with quick health checks, and customers sent to it.
alb() {
  q create alb web-alb 'subnets=["public-a"]' \
    'health_check={"interval": "5s", "timeout": "2s", "healthy_threshold": 2}' \
    deregistration_delay=30s
  q update web 'load_balancers=["web-lb","web-alb"]'
  # Its edge must be up before customers move.
  for _ in $(seq 100); do
    ctl --json get web-alb | grep -q '"ip"' && break
    sleep 0.1
  done
  sleep 1
  q endpoint web-alb
  # The alb replaces the clb: once the customers have moved, the clb only costs.
  q update web 'load_balancers=["web-alb"]'
  q delete web-lb
}
