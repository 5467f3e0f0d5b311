// Package experiments is the heart of slicelab: teams and their API tokens,
// contacts (the audience), experiments with their variants, deterministic
// assignment, launching, and sending through River jobs.
//
// Lifecycle: an experiment is created as a draft; its variants' templates
// are compiled and their links rewritten at save time, so a broken template
// or URL is a 422 then, never a failure at send time. Launch moves the
// experiment to running and queues an assignment job (assign_job.go), which
// assigns every contact of the audience to the holdout or a variant (a hash
// of experiment and contact id, so re-running gives the same answer), page by
// page: each page's deliveries and its River send jobs (one per batch) in one
// transaction, with the assignment's position. Send jobs claim their batch's
// queued deliveries, render and hand them to a Mailer over one connection,
// and record each outcome before the next message (send.go).
//
// The package never imports echo or go-mail: cmd/slicelab adapts HTTP and
// SMTP to the plain values and errors defined here.
package experiments
