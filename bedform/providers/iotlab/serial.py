"""EnOSlib's `IotlabSerial` and `IotlabSniffer`: a sensor's serial link and radio sniffer,
through its site frontend.

    serial = IotlabSerial(sensor, interactive=True)
    with serial:                       # an SSH tunnel to <board>:20000 via the frontend
        serial.write("help\\n")
        print(serial.read())
    with IotlabSerial(sensor):          # serial_aggregator on the frontend, logging to
        time.sleep(10)                  # ~/.iot-lab/<exp_id>/log/<alias>_serial.log
    with IotlabSniffer(sensor):         # sniffer_aggregator, writing
        time.sleep(10)                  # ~/.iot-lab/<exp_id>/sniffer/<alias>.pcap

The frontend is `<site>.iot-lab.info` unless `frontend` says otherwise (a box, a
mirror: the stack's `frontend` for that site); the user is the IoT-LAB login of the
credentials file; SSH authenticates with the agent, the user's keys and `keyfile`.
Both objects work as soon as they are made; the context manager opens and closes them.
"""

from __future__ import annotations

import shlex
import socket
import subprocess
from typing import Any

from bedform.errors import ProviderError
from bedform.providers.g5k.tunnel import G5kTunnel
from bedform.providers.iotlab.objects import IotlabSensor

SERIAL_PORT = 20000
SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
               "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
               "-o", "LogLevel=ERROR")
"""Options of every non-interactive SSH command to a frontend or a Linux board."""
SSH_TIMEOUT = 60


class _OnFrontend:
    """A sensor, its site frontend and the user who logs in there."""

    def __init__(self, sensor: IotlabSensor, frontend: str | None, user: str | None,
                 keyfile: str | None) -> None:
        if sensor.experiment is None:
            raise ValueError(f"{sensor.address} belongs to no experiment")
        self.sensor = sensor
        self.frontend = frontend or f"{sensor.site}.iot-lab.info"
        self.keyfile = keyfile
        self._user = user

    @property
    def user(self) -> str:
        """The login on the frontend: `user`, else the IoT-LAB login."""
        if self._user is None:
            from bedform.providers.iotlab.client import read_credentials

            self._user = read_credentials()[0]
        return self._user

    @property
    def nodes(self) -> str:
        """The sensor as the aggregators' `-l` takes it: `grenoble,m3,7`."""
        return f"{self.sensor.site},{self.sensor.alias.replace('-', ',')}"

    def on_frontend(self, command: str) -> str:
        """Run `command` on the frontend over SSH; its output (ProviderError on failure)."""
        args = ["ssh", *SSH_OPTIONS, *(("-i", self.keyfile) if self.keyfile else ()),
                f"{self.user}@{self.frontend}", command]
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=SSH_TIMEOUT,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise ProviderError(f"ssh {self.user}@{self.frontend} did not answer in "
                                f"{SSH_TIMEOUT} s") from None
        if done.returncode != 0:
            raise ProviderError(
                f"`{command}` on {self.frontend} exited {done.returncode}: "
                f"{done.stderr.strip()[-500:]}",
                hint="Check that your SSH key is registered on IoT-LAB and the frontend "
                     "is reachable (`frontend` in the stack).")
        return done.stdout

    def in_background(self, command: str) -> None:
        """Start `command` on the frontend, detached from the SSH session."""
        self.on_frontend(f"nohup setsid {command} < /dev/null > /dev/null 2>&1 &")

    def kill(self, pattern: str) -> None:
        """Stop the frontend's processes whose command line holds `pattern`."""
        quoted = shlex.quote(f"[{pattern[0]}]{pattern[1:]}")  # never matches this shell
        self.on_frontend(f"pkill -f {quoted}; true")


class IotlabSerial(_OnFrontend):
    """The serial link of a sensor: interactive (`write`/`read` through an SSH tunnel
    to port 20000 of the board via the frontend) or logging (`serial_aggregator` on the
    frontend writes `filename`)."""

    def __init__(self, sensor: IotlabSensor, serial_port: int = SERIAL_PORT,
                 interactive: bool = False, timeout: float = 5, *,
                 frontend: str | None = None, user: str | None = None,
                 keyfile: str | None = None) -> None:
        super().__init__(sensor, frontend, user, keyfile)
        self.serial_port = int(serial_port)
        self.interactive = interactive
        self.timeout = timeout
        self.filename = f"~/.iot-lab/{sensor.experiment}/log/{sensor.alias}_serial.log"
        self._tunnel: G5kTunnel | None = None
        self._socket: socket.socket | None = None

    # -- interactive ---------------------------------------------------------------------
    def open_serial_conn(self) -> None:
        """Open the SSH tunnel to the board's serial port and connect to it."""
        self.close_serial_conn()
        tunnel = G5kTunnel(self.sensor.address, self.serial_port, gateway=self.frontend,
                           user=self.user, keyfile=self.keyfile, force=True)
        host, port, _ = tunnel.start()
        self._tunnel = tunnel
        try:
            self._socket = socket.create_connection((host, port), timeout=self.timeout)
        except OSError:
            self.close_serial_conn()
            raise
        self._socket.settimeout(self.timeout)

    def close_serial_conn(self) -> None:
        """Close the connection and its tunnel."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._tunnel is not None:
            self._tunnel.close()
            self._tunnel = None

    def _connected(self) -> socket.socket:
        if not self.interactive:
            raise ProviderError("IotlabSerial: read and write need interactive=True")
        if self._socket is None:
            self.open_serial_conn()
        assert self._socket is not None
        return self._socket

    def write(self, content: str) -> None:
        """Send `content` to the board."""
        self._connected().sendall(content.encode())

    def read(self, size: int = 1024) -> str:
        """What the board printed, at most `size` bytes ("" when nothing came within
        `timeout` seconds)."""
        try:
            return self._connected().recv(size).decode(errors="replace")
        except TimeoutError:
            return ""

    # -- logging -------------------------------------------------------------------------
    def enable_logging_serial(self) -> None:
        """Start `serial_aggregator` on the frontend, its output in `filename`."""
        self.in_background(f"bash -c {shlex.quote(self._logger())}")

    def disable_logging_serial(self) -> None:
        """Stop this sensor's `serial_aggregator` on the frontend."""
        self.kill(f"serial_aggregator -l {self.nodes}")

    def _logger(self) -> str:
        return f"serial_aggregator -l {self.nodes} > {self.filename} 2>&1"

    def __enter__(self) -> IotlabSerial:
        if self.interactive:
            self.open_serial_conn()
        else:
            self.enable_logging_serial()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.interactive:
            self.close_serial_conn()
        else:
            self.disable_logging_serial()


class IotlabSniffer(_OnFrontend):
    """`sniffer_aggregator` on the frontend for a sensor, writing `filename` (pcap);
    `timeout` seconds at most (-1: until stopped or the experiment ends)."""

    def __init__(self, sensor: IotlabSensor, timeout: int = -1, *,
                 frontend: str | None = None, user: str | None = None,
                 keyfile: str | None = None) -> None:
        super().__init__(sensor, frontend, user, keyfile)
        self.timeout = int(timeout)
        self.filename = f"~/.iot-lab/{sensor.experiment}/sniffer/{sensor.alias}.pcap"

    def start_sniffer(self) -> None:
        """Start capturing."""
        bound = f"timeout {self.timeout} " if self.timeout > 0 else ""
        self.in_background(f"{bound}sniffer_aggregator -l {self.nodes} -o {self.filename}")

    def stop_sniffer(self) -> None:
        """Stop capturing (the pcap file stays on the frontend)."""
        self.kill(f"sniffer_aggregator -l {self.nodes} -o ")

    def __enter__(self) -> IotlabSniffer:
        self.start_sniffer()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop_sniffer()
