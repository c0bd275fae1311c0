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
