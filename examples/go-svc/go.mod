module headroom/demo-go-svc

go 1.19
