package boards

//go:generate go run ../cmd/gendashboards -out ..
