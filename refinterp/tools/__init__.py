"""refinterp\x27s tools: compare, golden, qerror, bench, the ops table. Core never imports them."""
