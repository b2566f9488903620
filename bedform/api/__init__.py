"""The EnOSlib-style facade: `Provider` classes (`Local`, `G5k`) and `Providers`.

Each facade turns a provider configuration into a one-provider stack and drives the
planner (plan/apply with the state under `.bedform/<name>/`). This package sits at the
top of the layers, beside the CLI; nothing below it (planner, state, providers/<type>)
imports it. Users import these names from `bedform` (`from bedform import G5k, G5kConf`).
"""
