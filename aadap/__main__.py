from aadap.cli import main

main()
