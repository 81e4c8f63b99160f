module example.com/go-unused-import-single

go 1.19
