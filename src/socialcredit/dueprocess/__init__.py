"""Due process and the subject's rights, as a domain: principals and credentials,
notices and their delivery, objections, appeals and repair, consent, the access log,
retention. The service layer composes these with the ledger, the engines, decisions and
the public log; nothing here imports the service or the command line."""
