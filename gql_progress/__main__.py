from gql_progress.cli import main

raise SystemExit(main())
