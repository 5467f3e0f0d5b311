// Package tracking is slicelab's lowest domain layer: the sealed tokens behind
// every tracked link and unsubscribe link, the click ledger, the classification
// of clicks into human and automated, and unsubscribing.
//
// A tracked token carries the variant, the delivery and the link's index,
// sealed with an HMAC under the service secret. Sending therefore writes no
// per-delivery link rows, and following a link needs no database read beyond
// the variant's (cached) list of destinations. The destination always comes
// from that stored list, never from the request, so there is no open redirect.
//
// A click's redirect waits only for durability: the Recorder appends the raw
// click to the click ledger (Ledger) with group commit (concurrent clicks
// queue up while one INSERT is in flight and are then written together in
// one statement, which reads nothing), and each caller returns once its
// click is committed, or fsynced to the Spool while the ledger cannot be
// written. Classification (the bot rules) and the rollups that results and
// reports read come afterwards, from the Projector, which reads the ledger
// in order under a lease and is idempotent; ProjectionState says how far it
// has come (as_of).
package tracking
