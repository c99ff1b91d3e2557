from compositor.entry import main

main()
