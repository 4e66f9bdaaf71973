from ecpctl.cli.main import main

main()
