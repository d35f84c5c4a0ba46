from relgate.cli.main import run

run()
