from sssctl.cli import main

main()
