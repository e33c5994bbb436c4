"""hashwatch.app: the `hashwatch` command on top of the services.

`cli` (the subcommands), `settings` (hashwatch.yml as a whole: one section per
service) and `demo` import the exporters, profitability and the simulator; the
kit (`hashwatch` outside this package) never imports them, nor this package.
The dependencies point one way: app -> services -> kit.
"""
