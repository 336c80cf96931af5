from organizer.cli import main

main()
