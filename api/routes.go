package api

import (
	"strings"

	"github.com/ukeygate/ukeygate/qrlogin"
	"github.com/ukeygate/ukeygate/webapp"
)

// routes registers every endpoint of the API. This is the only place routes
// are added; docs/openapi.yaml must list each (TestOpenAPICoversRoutes).
func (a *API) routes() {
	// Operator (Authorization: Bearer <admin token>).
	a.handle("POST /v1/admin/issuers", a.adminAddIssuer)
	a.handle("GET /v1/admin/issuers", a.adminListIssuers)
	a.handle("POST /v1/admin/apps", a.adminAddApp)
	a.handle("GET /v1/admin/apps", a.adminListApps)
	a.handle("POST /v1/admin/users", a.adminAddUser)
	a.handle("GET /v1/admin/users", a.adminListUsers)
	// Lifecycle (lifecycle.go): lost or new phones, devices, app keys.
	a.handle("GET /v1/admin/users/{id}", a.adminGetUser)
	a.handle("GET /v1/admin/users/{id}/data", a.adminUserData)
	a.handle("POST /v1/admin/users/{id}/activation", a.adminUserActivation)
	a.handle("POST /v1/admin/users/{id}/delegations", a.adminAddDelegation)
	a.handle("GET /v1/admin/users/{id}/delegations", a.adminListDelegations)
	a.handle("DELETE /v1/admin/users/{id}/delegations/{delegation}", a.adminRevokeDelegation)
	a.handle("POST /v1/admin/devices/{id}/revoke", a.adminRevokeDevice)
	a.handle("POST /v1/admin/apps/{id}/rotate", a.adminRotateApp)
	a.handle("POST /v1/admin/apps/{id}/disable", a.adminDisableApp)
	// Webhooks (webhooks.go): the operator's side, then the app's.
	a.handle("PUT /v1/admin/apps/{id}/webhook", a.adminSetWebhook)
	a.handle("GET /v1/admin/apps/{id}/webhook", a.adminGetWebhook)
	a.handle("DELETE /v1/admin/apps/{id}/webhook", a.adminRemoveWebhook)
	a.handle("GET /v1/webhook/deliveries", a.listDeliveries)
	a.handle("POST /v1/webhook/deliveries/{id}/redeliver", a.redeliver)
	a.handle("GET /v1/admin/credentials", a.adminListCredentials)
	a.handle("POST /v1/admin/credentials/{id}/certificate", a.adminImportCertificate)
	a.handle("POST /v1/admin/credentials/{id}/revoke", a.adminRevoke)
	// Seals (seals.go).
	a.handle("POST /v1/admin/seals", a.adminAddSeal)
	a.handle("GET /v1/admin/seals", a.adminListSeals)
	a.handle("POST /v1/admin/seals/{id}/revoke", a.adminRevokeSeal)
	a.handle("GET /v1/admin/audit", a.adminAudit)
	a.handle("GET /v1/admin/audit/verify", a.adminAuditVerify)
	a.handle("GET /v1/admin/audit/segment", a.adminAuditSegment)
	a.handle("GET /v1/admin/audit/archive", a.adminAuditArchive)
	a.handle("POST /v1/admin/audit/archive", a.adminAuditArchiveAdd)
	a.handle("GET /v1/admin/backup", a.adminBackup)
	a.handle("POST /v1/admin/operators", a.adminAddOperator)
	a.handle("GET /v1/admin/operators", a.adminListOperators)
	a.handle("DELETE /v1/admin/operators/{name}", a.adminRemoveOperator)
	// Registration with RA review (registrations.go): the operator's queue.
	a.handle("GET /v1/admin/registrations", a.adminListRegistrations)
	a.handle("GET /v1/admin/registrations/{id}", a.adminGetRegistration)
	a.handle("POST /v1/admin/registrations/{id}/approve", a.adminApproveRegistration)
	a.handle("POST /v1/admin/registrations/{id}/reject", a.adminRejectRegistration)
	// Key escrow and forgotten PINs (escrow.go).
	a.handle("POST /v1/admin/escrow", a.adminEscrowInit)
	a.handle("GET /v1/admin/escrow", a.adminGetEscrow)
	a.handle("POST /v1/admin/escrow/recoveries", a.adminOpenRecovery)
	a.handle("GET /v1/admin/escrow/recoveries", a.adminListRecoveries)
	a.handle("GET /v1/admin/escrow/recoveries/{id}", a.adminGetRecovery)
	a.handle("POST /v1/admin/escrow/recoveries/{id}/shares", a.adminSubmitShare)
	// Rotation of the escrow key (escrowrotate.go).
	a.handle("POST /v1/admin/escrow/rotations", a.adminOpenRotation)
	a.handle("GET /v1/admin/escrow/rotations", a.adminListRotations)
	a.handle("GET /v1/admin/escrow/rotations/{id}", a.adminGetRotation)
	a.handle("POST /v1/admin/escrow/rotations/{id}/shares", a.adminApproveRotation)
	a.handle("POST /v1/admin/escrow/rotations/{id}/cancel", a.adminCancelRotation)
	a.handle("POST /v1/admin/escrow/rotations/{id}/confirmations", a.adminConfirmRotation)
	a.handle("POST /v1/admin/escrow/rotations/{id}/abandon", a.adminAbandonRotation)
	a.handle("POST /v1/admin/users/{id}/reset-pin", a.adminResetPIN)

	// Public: issuers, their certificates and CRLs.
	a.handle("GET /v1/issuers", a.listIssuers)
	a.handle("GET /v1/issuers/{id}/ca.pem", a.issuerCertificate)
	a.handle("GET /v1/issuers/{id}/crl", a.issuerCRL)

	// Phone: enrollment (unsigned), then device-signed requests.
	a.handle("POST /v1/enroll", a.enroll)
	a.handle("POST /v1/register", a.register)
	a.handle("GET /v1/register/policy", a.registrationPolicy)
	a.handle("GET /v1/register/{id}", a.registrationStatus)
	a.handle("POST /v1/me/corrections", a.submitCorrection)
	a.handle("GET /v1/me/credentials", a.myCredentials)
	a.handle("POST /v1/me/credentials", a.requestCredential)
	a.handle("POST /v1/me/credentials/{id}/cosign", a.cosignCSR)
	a.handle("POST /v1/me/credentials/{id}/renew", a.renewCredential)
	a.handle("PUT /v1/me/pin", a.changePIN)
	a.handle("GET /v1/me/history", a.myHistory)
	a.handle("POST /v1/me/seals", a.addDrawnSeal)
	a.handle("GET /v1/me/delegations", a.myDelegations)
	a.handle("POST /v1/me/delegations/{id}/accept", a.delegationStep(false))
	a.handle("POST /v1/me/delegations/{id}/approve", a.delegationStep(true))
	// Privacy rights (privacy.go).
	a.handle("GET /v1/me/data", a.myData)
	a.handle("POST /v1/me/recovery", a.myRecovery)
	a.handle("DELETE /v1/me", a.deleteAccount)
	// Phone, scan sessions (device-signed).
	a.handle("POST /v1/scan", a.scan)
	a.handle("POST /v1/sessions/{id}/confirm", a.confirm)
	a.handle("POST /v1/sessions/{id}/reject", a.reject)

	// Portal, scan sessions (Authorization: Bearer <app key>; the reads
	// also take the session's watch token as ?token=).
	a.handle("POST /v1/sessions", a.createSession)
	a.handle("GET /v1/sessions/{id}", a.getSession)
	a.handle("DELETE /v1/sessions/{id}", a.cancelSession)
	a.handle("GET /v1/sessions/{id}/qr.png", a.qrImage(false))
	a.handle("GET /v1/sessions/{id}/qr.svg", a.qrImage(true))
	a.handle("GET /v1/sessions/{id}/ws", a.watchSocket)
	a.handle("GET /v1/sessions/{id}/events", a.pollEvents)
	a.handle("POST "+PathUploads, a.createUpload)
	a.handle("POST /v1/verify", a.verify)
	a.handle("POST /v1/encrypt", a.encrypt)

	// Browser-facing files (web.go): the widget, always; the demo portal
	// (pages, static files, its JSON backend) when configured.
	a.handleHTTP("GET "+PathWidget, qrlogin.WidgetHandler())
	// The phone web app (webapp): the app at /m/, and the QR payload URL
	// /q/<id>.<nonce> opening it on that session.
	a.handleHTTP("GET "+webapp.PathApp, a.webapp)
	a.handleHTTP("GET "+webapp.PathQR+"{payload}", a.webapp)
	a.handleHTTP(strings.TrimSuffix(webapp.PathApp, "/"), a.webapp)
	if a.demo != nil {
		a.handleHTTP(PathDemo, a.demo)
		a.handleHTTP(PathDemo+"/", a.demo)
	}

	// Anything else: a JSON 404 or 405 (two catch-alls, so that metrics
	// tell unknown /v1/ calls from stray paths).
	a.handle(catchAllV1, a.unmatched)
	a.handle(catchAll, a.unmatched)
}
