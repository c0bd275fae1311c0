# MyClothes.com strategies: helpers over lib.sh.
# The running instances of group web, and how many of them are InService.
web_ids() {
  ctl --json instances | python3 -c '
import json, sys
for i in json.load(sys.stdin):
    s = i["status"]
    if s.get("asg") == "web" and s.get("state") in ("pending", "running"):
        print(i["id"])'
}
in_service() {
  ctl --json instances | python3 -c '
import json, sys
print(sum(1 for i in json.load(sys.stdin)
          if i["status"].get("asg") == "web" and i["status"].get("state") == "running"
          and i["status"].get("health") == "InService"))'
}
# Replaces every instance of web by one launched from the launch template as it is
# now, one at a time: terminate one, wait until the group is whole and in service.
replace_fleet() {
  local want old
  want=$(web_ids | wc -l)
  old=$(web_ids)
  for id in $old; do
    q terminate "$id"
    sleep 1
    until [ "$(in_service)" -ge "$want" ]; do
      [ "$(state 2>/dev/null || echo ended)" = running ] || exit 0
      sleep 0.2
    done
  done
}
# Waits until resource $1's status.state is "available" (a db, a cache cluster), at
# most $2 wall seconds (60).
wait_available() {
  local i
  for i in $(seq $((${2:-60} * 5))); do
    ctl --json get "$1" 2>/dev/null | python3 -c '
import json, sys
sys.exit(0 if json.load(sys.stdin)["status"].get("state") == "available" else 1)' && return 0
    [ "$(state 2>/dev/null || echo ended)" = running ] || exit 0
    sleep 0.2
  done
  return 1
}
# Security groups chained by reference: the alb open, the instances only from it, Redis
# and PostgreSQL only from the instances; the web tier and the alb over two zones; a
# Redis (cache_cluster `sessions`, its arguments in "$@") for the sessions.
safe_tiers() {
  q create security_group lb-sg 'ingress=[{"from": "0.0.0.0/0", "port": 8080}]'
  q create security_group web-sg 'ingress=[{"source_group": "lb-sg", "port": 8000}]'
  q create security_group data-sg \
    'ingress=[{"source_group": "web-sg", "port": 6379}, {"source_group": "web-sg", "port": 5432}]'
  q create cache_cluster sessions 'subnets=["data-a","data-b"]' 'security_groups=["data-sg"]' "$@"
  q update shop-db 'security_groups=["data-sg"]'
  q update shop-alb 'subnets=["public-a","public-b"]' 'security_groups=["lb-sg"]'
  q update web 'subnets=["private-a","private-b"]'
  wait_available sessions
}
# AWS Health warns of zone a at 1:00, and it loses power at 1:05: the db gets a
# standby in zone b, and the Redis a replica there (both fail over by themselves).
before_the_outage() {
  at $((60 * 60))
  q update shop-db multi_az=true
  q update sessions replicas=1 multi_az=true automatic_failover=true
}
