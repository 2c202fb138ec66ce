from stackctl.entry import main

main()
