"""EnOSlib's builder API of the configurations whose machines run on Grid'5000 nodes
(VMonG5k's VMs, Distem's vnodes): `from_settings`, `from_dictionary`, `add_machine`,
`add_network`. A configuration class sets `fields` (its top-level fields), `schema`,
`machine_class` and `ignored_machine_keys` (EnOSlib keys it accepts and drops), and
defines `finalize`."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from bedform.errors import ConfigError
from bedform.providers.schema import validate_section


class HostedMachinesConf:
    """The builder methods (see the module docstring)."""

    fields: ClassVar[tuple[str, ...]]
    schema: ClassVar[dict[str, Any]]
    machine_class: ClassVar[type]
    ignored_machine_keys: ClassVar[tuple[str, ...]] = ()
    machines: list[Any]
    networks: list[str]

    @classmethod
    def from_settings(cls, **kwargs: Any) -> Self:
        unknown = sorted(set(kwargs) - set(cls.fields))
        if unknown:
            raise ConfigError(f"unknown field {unknown[0]!r}", (unknown[0],),
                              hint=f"Known fields: {', '.join(cls.fields)}.")
        return cls(**{k: v for k, v in kwargs.items() if v is not None})._normalised()

    def _normalised(self) -> Self:
        """Settings brought to their canonical form (default: as given)."""
        return self

    @classmethod
    def from_dictionary(cls, dictionary: Mapping[str, Any], validate: bool = True) -> Self:
        if validate:
            validate_section(cls.schema, dictionary)
        data = copy.deepcopy(dict(dictionary))
        conf = cls.from_settings(**{k: v for k, v in data.items() if k in cls.fields})
        resources = data.get("resources", {})
        if "networks" in resources:
            conf.networks = list(resources["networks"])
        for index, machine in enumerate(resources.get("machines", [])):
            for key in cls.ignored_machine_keys:
                machine.pop(key, None)
            try:
                conf.add_machine(**machine)
            except ConfigError as error:
                raise error.within(prefix=("resources", "machines", index)) from None
        return conf.finalize()

    from_dictionnary = from_dictionary

    def finalize(self) -> Self:
        raise NotImplementedError

    def add_machine(self, **kwargs: Any) -> Self:
        self.machines.append(self.machine_class(**kwargs))
        return self

    def add_network(self, role: str) -> Self:
        """Give the machines' network one more role (this configuration's list only)."""
        self.networks.append(role)
        return self
