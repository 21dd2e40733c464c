"""One module per command (or a few related ones); command_line.COMMANDS maps names to them."""
