//! imagor's command line: every flag of `imagor -h`, read as Go's `flag`
//! package and peterbourgon/ff read them (flags, environment, `.env`).
