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
// Clicks are written by a group-commit Recorder: concurrent clicks queue up
// while one INSERT is in flight and are then written together in one
// statement, and each caller returns only once its click is committed.
package tracking
