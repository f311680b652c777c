from cairn_dev.cli import main

main()
