#!/usr/bin/env python3
"""EnOSlib-style use of the IoT-LAB provider: three m3 boards with a firmware, reset one.

    python examples/iotlab_firmware.py firmware/fw-a.elf "firmware A"
    bedform emulate iotlab &      # then export the IOTLAB_* lines it prints
    python examples/iotlab_enoslib_style.py
"""

from __future__ import annotations

from bedform import Iotlab, IotlabConf

conf = (IotlabConf.from_settings(job_name="enoslib-style", walltime="00:30")
        .add_machine(roles=["sensor"], archi="m3:at86rf231", site="grenoble", number=3,
                     image="firmware/fw-a.elf")
        .finalize())
provider = Iotlab(conf, echo=print)
roles, networks = provider.init()          # a second run reloads: nothing is flashed again
for sensor in roles["sensor"]:
    print(sensor.alias, sensor.address, sensor.archi)
print(roles["sensor"][0].reset())
provider.destroy()
