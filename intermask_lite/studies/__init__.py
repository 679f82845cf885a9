"""Studies: experiments that train and compare variants of the chain (the layer above the kit).

- `ablations`: each of the paper's claims as a set of preset overrides, trained alike and evaluated with intervals.
"""
