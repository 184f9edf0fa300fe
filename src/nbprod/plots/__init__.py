"""Every figure nbprod draws: the pipeline notebooks', the dashboards', and the PNG-rendering figure they share."""
