"""An EnOSlib-style experiment, offline: deploy two nodes, give them a kavlan on their
second NIC, run commands on them. Against the Grid'5000 box (docs/g5k-offline.md):

    bedform emulate g5k --box --speed 40 --authorized-key ~/.ssh/id_ed25519.pub &
    export BEDFORM_G5K_CONFIG=$PWD/.bedform/g5k-emulator.yaml
    python examples/g5k_box_experiment.py

On Grid'5000 itself, the same script runs unchanged (with your own credentials file).
"""

import os

from bedform import remote
from bedform.providers.g5k import G5k, G5kConf

conf = (
    G5kConf.from_settings(job_name="box-experiment", walltime="01:00:00",
                          job_type=["deploy"], env_name="debian12-min",
                          key=os.environ.get("BEDFORM_KEY", "~/.ssh/id_ed25519.pub"))
    .add_network(id="prod", type="prod", roles=["prod"], site="rennes")
    .add_network(id="lan", type="kavlan", roles=["lan"], site="rennes")
    .add_machine(roles=["server"], cluster="parasilo", site="rennes", nodes=2,
                 primary_network="prod", secondary_networks=["lan"])
    .finalize()
)

if __name__ == "__main__":
    provider = G5k(conf)
    roles, networks = provider.init()       # a second run reloads, never resubmits
    lan = networks["lan"][0]
    print(f"kavlan network: {lan.network}")
    results = remote.run(roles["server"], "hostname; cat /etc/bedform-environment; "
                         "ip -br -4 addr show dev eno2")
    for alias, result in sorted(results.items()):
        print(f"{alias}: {' | '.join(result.stdout.split(chr(10))).strip(' |')}")
    provider.destroy()
