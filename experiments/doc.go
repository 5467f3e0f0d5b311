// Package experiments is the heart of slicelab: teams and their API tokens,
// contacts (the audience), experiments with their variants, deterministic
// assignment, launching, and sending through River jobs.
//
// Lifecycle: an experiment is created as a draft; its variants' templates
// are compiled and their links rewritten at save time, so a broken template
// or URL is a 422 then, never a failure at send time. Launch assigns every
// contact of the audience to the holdout or a variant (a hash of experiment
// and contact id, so re-running gives the same answer), writes one delivery
// per contact and one River send job per batch of deliveries, all in one
// transaction. Send jobs claim their batch's queued deliveries, render and
// hand them to a Mailer over one connection, and record each outcome.
//
// The package never imports echo or go-mail: cmd/slicelab adapts HTTP and
// SMTP to the plain values and errors defined here.
package experiments
