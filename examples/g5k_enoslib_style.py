"""An EnOSlib script ported to bedform: only the import changes.

Run against the emulator: `bedform emulate g5k` then export BEDFORM_G5K_CONFIG=...
"""

from bedform import G5k, G5kConf

conf = (
    G5kConf.from_settings(job_name="enoslib-style", walltime="01:00:00")
    .add_machine(roles=["server"], cluster="parasilo", site="rennes", nodes=2)
    .add_machine(roles=["client"], cluster="paradoxe", site="rennes", nodes=1)
    .finalize()
)

if __name__ == "__main__":
    provider = G5k(conf)
    roles, networks = provider.init()       # a second run reloads, never resubmits
    print(roles)
    print(networks)
    provider.destroy()
