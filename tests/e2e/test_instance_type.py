"""An instance's own `instance_type` overrides its launch template's: it is what the
instance is billed as (status.instance_type), through the API as in a scenario."""

import json

from conftest import scenario_path

SCENARIO = scenario_path("scale_in.yaml")


def test_instance_type_overrides_the_template(play):
    g = play(SCENARIO, speed=60)
    g.wait_ready()
    r = g.ctl("--json", "create", "instance", "big", "launch_template=web-template",
              "subnet=private-a", "instance_type=m5.large")
    made = json.loads(r.stdout)
    assert made["spec"]["instance_type"] == "m5.large", made
    assert made["status"]["instance_type"] == "m5.large", made
    r = g.ctl("--json", "create", "instance", "small", "launch_template=web-template",
              "subnet=private-a")
    made = json.loads(r.stdout)
    assert made["status"]["instance_type"] == "t3.micro", made  # the template's
    r = g.ctl("create", "instance", "bad", "launch_template=web-template",
              "subnet=private-a", "instance_type=z9.huge", check=False)
    assert r.returncode != 0 and "instance_type" in (r.stdout + r.stderr), r
    assert "bad" not in [i["name"] for i in g.instances()]
