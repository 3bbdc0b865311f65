// Package ra is the registration authority: self-registration of persons
// and organisations (POST /v1/register) with the consent to a versioned
// privacy policy, the identity verifiers that check an application (the
// Verifier interface; the manual RA review and a deterministic test
// verifier ship), the operator's review queue (approve: the user is
// created with its activation code exactly as by the operator's `user
// add`; reject: with a reason), and users' corrections of their personal
// fields, which go through the same queue.
//
// It must never create a user or change one other than through the ca
// service, never decide without writing the audit entry in the same
// transaction, and never hand an activation code to anyone but the
// operator who approved.
package ra
