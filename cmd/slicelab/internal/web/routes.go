package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"slicelab/experiments"
)

// routes is slicelab's one route table: every route is registered here, in
// three groups. A test fails when a route is registered anywhere else.
func (s *server) routes(e *echo.Echo) {
	editor, admin := need(experiments.RoleEditor), need(experiments.RoleAdmin)
	small := bodyLimit(64 << 10)
	imports := bodyLimit(s.ImportMaxBytes) // contact imports stream: large files are fine

	// Public (product.md §11): the links in emails, health checks. No
	// session, no token; errors are HTML pages.
	public := e.Group("")
	public.GET("/healthz", s.healthz)
	public.GET("/readyz", s.readyz)
	public.GET("/metrics", s.metrics)
	public.GET("/api/v1/openapi.json", s.openAPI) // documentation, no data: readable without a token
	public.Match([]string{http.MethodGet, http.MethodHead}, "/c/:token", s.followLink, s.limitLookups)
	public.GET("/u/:token", s.unsubscribePage, s.limitLookups, bodyLimit(16<<10))
	public.POST("/u/:token", s.unsubscribe, s.limitLookups, bodyLimit(16<<10))
	public.GET("/survey/:token", s.surveyPage, s.limitLookups)
	public.POST("/survey/:token", s.surveySubmit, s.limitLookups, bodyLimit(16<<10))
	public.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", http.FileServerFS(staticFS))), staticCache)

	// Signing in and out, and the first admin's set-up link: public (there is
	// no session yet, or it is being ended, so the session middleware would
	// only get in the way) but still form posts, so CSRF-protected; failed
	// sign-ins are limited per client address inside s.signin.
	csrf := s.csrf()
	public.GET("/signin", s.signinPage, csrf)
	public.POST("/signin", s.signin, csrf, small)
	public.POST("/signout", s.signout, csrf, small)
	public.GET("/setup/:token", s.setupPage, s.limitLookups, csrf)
	public.POST("/setup/:token", s.setup, s.limitLookups, csrf, small)

	// The API: a bearer token, scoped to the token's team; errors are JSON.
	api := e.Group("/api/v1", jsonErrors, s.authenticate)
	api.GET("/teams/:team", s.getTeam)
	api.PATCH("/teams/:team", s.updateTeam, admin, small)
	api.GET("/teams/:team/members", s.listMembers)
	api.POST("/teams/:team/members", s.addMember, admin, small)
	api.GET("/teams/:team/tokens", s.listTokens, admin)
	api.DELETE("/teams/:team/tokens/:id", s.revokeToken, admin)

	api.POST("/teams/:team/contacts", s.importContacts, editor, imports)
	api.GET("/teams/:team/contacts", s.listContacts)
	api.GET("/teams/:team/contacts/export", s.exportContact, admin)
	api.POST("/teams/:team/contacts/erase", s.eraseContact, admin, small)

	api.POST("/teams/:team/experiments", s.createExperiment, editor, bodyLimit(2<<20))
	api.GET("/teams/:team/experiments", s.listExperiments)
	api.GET("/experiments/:id", s.getExperiment)
	api.PATCH("/experiments/:id", s.updateExperiment, editor, bodyLimit(2<<20))
	api.DELETE("/experiments/:id", s.deleteExperiment, editor)
	api.POST("/experiments/:id/launch", s.launchExperiment, editor, small)
	api.POST("/experiments/:id/pause", s.pauseExperiment, editor, small)
	api.POST("/experiments/:id/resume", s.resumeExperiment, editor, small)
	api.POST("/experiments/:id/cancel", s.cancelExperiment, editor, small)
	api.GET("/experiments/:id/results", s.experimentResults)
	api.GET("/experiments/:id/preview", s.previewExperiment)
	api.POST("/experiments/:id/test", s.sendTest, editor, small)

	api.POST("/teams/:team/objectives", s.createObjective, editor, small)
	api.GET("/teams/:team/objectives", s.listObjectives)
	api.GET("/objectives/:id", s.getObjective)
	api.PATCH("/objectives/:id", s.updateObjective, editor, small)
	api.DELETE("/objectives/:id", s.archiveObjective, editor)
	api.POST("/objectives/:id/key-results", s.createKeyResult, editor, small)
	api.GET("/key-results/:id", s.getKeyResult)
	api.PATCH("/key-results/:id", s.updateKeyResult, editor, small)
	api.DELETE("/key-results/:id", s.archiveKeyResult, editor)
	api.POST("/key-results/:id/check-ins", s.checkIn, editor, small)
	api.POST("/key-results/:id/experiments", s.linkExperiment, editor, small)
	api.POST("/teams/:team/events", s.ingestEvents, editor, bodyLimit(8<<20))
	api.GET("/teams/:team/reports/weekly", s.weeklyReport)

	api.POST("/teams/:team/allocations", s.postAllocation, editor, small)
	api.GET("/teams/:team/allocations", s.getAllocationReport)
	api.GET("/teams/:team/allocation-categories", s.getCategories)
	api.POST("/teams/:team/allocation-categories", s.postCategory, admin, small)
	api.PATCH("/teams/:team/allocation-categories/:id", s.updateCategory, admin, small)
	api.PUT("/teams/:team/allocation-targets", s.putTargets, admin, small)

	// The organisation's routes: an organisation's token (aggregates of every team).
	api.GET("/org", s.getOrg, needOrg)
	api.GET("/org/members", s.orgMembers, needOrg)
	api.GET("/org/reports/weekly", s.orgReport, needOrg)

	// Pages: a session cookie (s.session sets the member's principal, so
	// need() checks roles exactly as in the API) and a CSRF token on every
	// form. Errors are HTML pages.
	pages := e.Group("", s.session, csrf)
	pages.GET("/", s.home)
	pages.POST("/team/switch", s.switchTeam, small)

	pages.GET("/contacts", s.contactsPage)
	pages.POST("/contacts", s.contactsUpload, editor, imports)

	pages.GET("/experiments", s.experimentsPage)
	pages.GET("/experiments/new", s.newExperimentPage, editor)
	pages.POST("/experiments", s.createExperimentForm, editor, bodyLimit(2<<20))
	pages.GET("/experiments/:id", s.experimentPage)
	pages.GET("/experiments/:id/progress", s.progressFragment)
	pages.GET("/experiments/:id/preview", s.previewFrame)
	pages.GET("/experiments/:id/edit", s.editExperimentPage, editor)
	pages.POST("/experiments/:id", s.updateExperimentForm, editor, bodyLimit(2<<20))
	pages.POST("/experiments/:id/delete", s.deleteExperimentForm, editor, small)
	pages.GET("/experiments/:id/launch", s.launchPage, editor)
	pages.POST("/experiments/:id/launch", s.launchForm, editor, small)
	pages.POST("/experiments/:id/pause", s.lifecycleForm, editor, small)
	pages.POST("/experiments/:id/resume", s.lifecycleForm, editor, small)
	pages.POST("/experiments/:id/cancel", s.lifecycleForm, editor, small)
	pages.POST("/experiments/:id/test", s.sendTestForm, editor, small)

	pages.GET("/okrs", s.okrsPage)
	pages.POST("/okrs/objectives", s.createObjectiveForm, editor, small)
	pages.POST("/okrs/objectives/:id/key-results", s.createKeyResultForm, editor, small)
	pages.POST("/okrs/objectives/:id", s.updateObjectiveForm, editor, small)
	pages.POST("/okrs/objectives/:id/archive", s.archiveObjectiveForm, editor, small)
	pages.POST("/okrs/key-results/:id", s.updateKeyResultForm, editor, small)
	pages.POST("/okrs/key-results/:id/archive", s.archiveKeyResultForm, editor, small)
	pages.POST("/okrs/key-results/:id/check-in", s.checkInForm, editor, small)
	pages.POST("/okrs/key-results/:id/link", s.linkExperimentForm, editor, small)

	pages.GET("/review", s.reviewPage)
	pages.GET("/review.csv", s.reviewCSV)

	// Every member answers the allocation survey for themselves.
	pages.GET("/allocation", s.allocationPage)
	pages.POST("/allocation", s.allocationForm, small)

	pages.GET("/outbox", s.outboxPage)
	pages.GET("/outbox/:name", s.outboxMessage)
	pages.GET("/outbox/:name/html", s.outboxHTML)

	// The organisation's week: admins of the team's organisation.
	pages.GET("/org", s.orgPage, needOrg)
	pages.GET("/org.csv", s.orgCSV, needOrg)

	pages.GET("/team", s.teamPage, admin)
	pages.POST("/team/members", s.addMemberForm, admin, small)
	pages.POST("/team/survey", s.sendSurveyNow, admin, small)
	pages.POST("/team/digest", s.sendDigestNow, admin, small)
}
