from evqueue.cli.engine import main

raise SystemExit(main())
