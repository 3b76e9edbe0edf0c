from evqueue.plugins.build import main

raise SystemExit(main())
