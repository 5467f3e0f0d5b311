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

	// Public (product.md §11): the links in emails, health checks. No
	// session, no token; errors are HTML pages.
	public := e.Group("")
	public.GET("/healthz", s.healthz)
	public.GET("/readyz", s.readyz)
	public.GET("/metrics", s.metrics)
	public.GET("/api/v1/openapi.json", s.openAPI) // documentation, no data: readable without a token
	public.Match([]string{http.MethodGet, http.MethodHead}, "/c/:token", s.followLink)
	public.GET("/u/:token", s.unsubscribePage, bodyLimit(16<<10))
	public.POST("/u/:token", s.unsubscribe, bodyLimit(16<<10))
	public.GET("/survey/:token", s.surveyPage)
	public.POST("/survey/:token", s.surveySubmit, bodyLimit(16<<10))

	// The API: a bearer token, scoped to the token's team; errors are JSON.
	api := e.Group("/api/v1", jsonErrors, s.authenticate)
	api.GET("/teams/:team", s.getTeam)
	api.PATCH("/teams/:team", s.updateTeam, admin, small)
	api.GET("/teams/:team/members", s.listMembers)
	api.POST("/teams/:team/members", s.addMember, admin, small)
	api.GET("/teams/:team/tokens", s.listTokens, admin)
	api.DELETE("/teams/:team/tokens/:id", s.revokeToken, admin)

	api.POST("/teams/:team/contacts", s.importContacts, editor, bodyLimit(256<<20))
	api.GET("/teams/:team/contacts", s.listContacts)

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

	// Pages: a session cookie. The web UI's pages go here.
}
